/**
 * How the operator reaches the servers it runs: through the endpoint map (tests and benchmarks
 * whose servers run outside the cluster), else by the Service's DNS name, or by its ClusterIP
 * from the cache (`--service-addresses=cluster-ip`, an operator run outside the cluster).
 */
import { type EndpointMap, makeResolver, type ServiceAddressMode } from '../endpoints.ts';
import type { Endpoint } from '../pg/client.ts';
import type { CacheReader } from '../runtime/controller.ts';
import { type KubeObject, Resources } from '../runtime/types.ts';

export interface ReachOptions {
  endpointMap: EndpointMap;
  serviceAddresses?: ServiceAddressMode;
}

/** host:port as the operator connects to it, for a Service host `NAME.NAMESPACE.svc`. */
export function serviceResolver(
  reach: ReachOptions,
  cache: CacheReader,
): (host: string, port: number) => Endpoint {
  return makeResolver(
    reach.endpointMap,
    reach.serviceAddresses ?? 'dns',
    (namespace, name) =>
      cache.get<KubeObject & { spec?: { clusterIP?: string } }>(Resources.Service, namespace, name)?.spec
        ?.clusterIP,
  );
}
