/** Every controller of the operator, registered on one Manager (`run`, and the tests of what it exports). */
import type { EndpointMap } from '../endpoints.ts';
import type { RuntimeConfig } from '../runtime/config.ts';
import type { Manager } from '../runtime/manager.ts';
import { registerCacheTierController } from './cachetier/controller.ts';
import { registerDatabaseJobsController } from './dbjobs/controller.ts';
import { registerHomeOpsDatabaseController } from './homeopsdatabase/controller.ts';
import { registerReplicaSetController } from './replicaset/controller.ts';

export function registerControllers(manager: Manager, config: RuntimeConfig, endpointMap: EndpointMap): void {
  const images = {
    postgres: config.postgresImage,
    timescale: config.timescaleImage,
    pgbouncer: config.pgbouncerImage,
    redis: config.redisImage,
  };
  const opts = { endpointMap, serviceAddresses: config.serviceAddresses, images };
  registerHomeOpsDatabaseController(manager, { ...opts, probeConcurrency: config.probeConcurrency });
  registerReplicaSetController(manager, opts);
  registerCacheTierController(manager, opts);
  registerDatabaseJobsController(manager, { operatorImage: config.operatorImage });
}
