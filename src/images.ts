/**
 * The images used where a resource names none, overridden by the operator's --postgres-image,
 * --timescale-image, --pgbouncer-image, --redis-image and --operator-image, so a cluster admin picks them once (a
 * mirror, a pinned digest) and the local harness points them at the images built on the
 * machine. Every one must meet the image contract in the README.
 */
export interface DefaultImages {
  postgres: string;
  timescale: string;
  pgbouncer: string;
  redis: string;
}

export const DEFAULT_IMAGES: DefaultImages = {
  postgres: 'docker.io/library/postgres:15',
  timescale: 'docker.io/timescale/timescaledb-ha:pg15',
  pgbouncer: 'ghcr.io/cloudnative-pg/pgbouncer:1.23.0',
  redis: 'docker.io/library/redis:7',
};

/** The operator's own image, for its Jobs (`homeops-operator job ...`), unless --operator-image. */
export const DEFAULT_OPERATOR_IMAGE = 'ghcr.io/homeops/homeops-operator:latest';

/**
 * V8 flags the operator runs with (the image's entrypoint, the local image, the benchmarks). At
 * 1,000 databases V8 had grown the young generation to 128 MiB committed for 1 MiB live: a third
 * of the process' RSS. 8 MiB semi-spaces (16 MiB of young generation) cost more, short scavenges.
 */
export const OPERATOR_NODE_FLAGS = ['--max-semi-space-size=8'];

/**
 * V8 flags of the Jobs' node. The migration runner loads PostgreSQL's parser as WebAssembly
 * (libpg-query, 1.1 MB); V8 compiles such a module at once with its baseline compiler, then
 * again with its optimising one in the background, which cost about 500 MB for a second or two:
 * the migration Job's pod (256 MiB limit) was OOM-killed on the real node. The baseline code
 * splits a migration in milliseconds. (A flag set from inside the process comes too late: V8
 * freezes its flags at start.)
 */
export const JOB_NODE_FLAGS = ['--liftoff-only'];
