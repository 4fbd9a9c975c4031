/**
 * Objects for unit tests: a resource as the API server would hand it to a controller (defaults
 * applied by the schema), and what the servers answer. One place, so tests by module share them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  type CacheTier,
  cacheTierSpec,
  type HomeOpsDatabase,
  homeOpsDatabase,
  homeOpsDatabaseSpec,
  type ReplicaSet,
  replicaSetSpec,
} from '../../src/api/v1alpha1/index.ts';

/** A CacheTier `cache` in namespace `ns`, generation 4, with `spec` defaulted as the API server would. */
export const cacheTierObject = (spec: Record<string, unknown> = {}): CacheTier => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'CacheTier',
  metadata: { name: 'cache', namespace: 'ns', uid: 'u', generation: 4 },
  spec: cacheTierSpec.parse(spec),
});

/** Redis 7's INFO of a standalone server with two databases, a few hits and evictions. */
export const REDIS_INFO = `# Server\r\nredis_version:7.0.15\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:2097152\r\n# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:5\r\nrdb_last_bgsave_status:ok\r\naof_enabled:1\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n# Stats\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\nevicted_keys:7\r\n# Replication\r\nrole:master\r\n# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\ndb1:keys=3,expires=0,avg_ttl=0\r\n`;

/** A HomeOpsDatabase `db` in namespace `ns` (max_connections 300), as a ReplicaSet follows it. */
export const databaseObject: HomeOpsDatabase = {
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: 'db', namespace: 'ns', uid: 'd' },
  spec: homeOpsDatabaseSpec.parse({ postgres: { parameters: { max_connections: '300' } } }),
};

/** A ReplicaSet `name` (default `reads`) of database `db` with 2 replicas, `over` merged into its spec. */
export const replicaSetObject = (over: Record<string, unknown> = {}, name = 'reads'): ReplicaSet => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: 'ns', uid: 'r', generation: 2 },
  spec: replicaSetSpec.parse({ databaseRef: { name: 'db' }, replicas: 2, ...over }),
});

/** A HomeOpsDatabase `home` in namespace `ns`, generation 3, with `spec` defaulted and optional annotations. */
export const homeDatabaseObject = (
  spec: Record<string, unknown> = {},
  annotations?: Record<string, string>,
): HomeOpsDatabase => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: {
    name: 'home',
    namespace: 'ns',
    uid: 'u1',
    generation: 3,
    ...(annotations ? { annotations } : {}),
  },
  spec: homeOpsDatabaseSpec.parse(spec),
});

const SAMPLES = join(import.meta.dirname, '..', '..', 'manifests', 'samples');

/** A HomeOpsDatabase sample from manifests/samples, parsed and defaulted, in namespace `prod`. */
export function sampleDatabase(file: string): HomeOpsDatabase {
  const db = homeOpsDatabase.parse(parse(readFileSync(join(SAMPLES, file), 'utf8')));
  return { ...db, metadata: { ...db.metadata, namespace: 'prod', uid: 'uid-1' } };
}

/** A built object, walked freely by a test. */
// biome-ignore lint/suspicious/noExplicitAny: test code walks built objects freely
export type Any = Record<string, any>;
