/** Helpers of the tests on the real node: the images built here, psql in a pod, Events. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { DefaultImages } from '../../src/images.ts';
import type { KubeClient } from '../../src/runtime/client.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { kubectl } from './kube.ts';

const repo = join(import.meta.dirname, '..', '..');

/** The images hack/images.sh built and imported into the node's containerd. */
export function localImages(): DefaultImages {
  const ref = (name: string) =>
    execFileSync('bash', [join(repo, 'hack', 'images.sh'), 'ref', name], { encoding: 'utf8' }).trim();
  return {
    postgres: ref('postgres'),
    timescale: ref('postgres'),
    pgbouncer: ref('pgbouncer'),
    redis: ref('redis'),
  };
}

/** The PostgreSQL 15 image (bookworm), beside the default PostgreSQL 17 one. */
export const postgres15Image = () =>
  execFileSync('bash', [join(repo, 'hack', 'images.sh'), 'ref', 'postgres15'], { encoding: 'utf8' }).trim();

/** The operator's own image, built here: the Jobs run it. */
export const operatorImage = () =>
  execFileSync('bash', [join(repo, 'hack', 'images.sh'), 'ref', 'operator'], { encoding: 'utf8' }).trim();

/**
 * psql as the superuser inside a pod's postgres container, over its Unix socket (or `host`).
 * The password comes from the mounted superuser Secret, or from `password` (a replica mounts
 * only the replication Secret); it goes through the environment, never the command line.
 */
export async function psqlInPod(
  namespace: string,
  pod: string,
  sql: string,
  opts: { database?: string; password?: string; host?: string } = {},
): Promise<string> {
  const out = await kubectl(
    'exec',
    '-n',
    namespace,
    pod,
    '-c',
    'postgres',
    '--',
    'sh',
    '-c',
    'PGPASSWORD=$2; [ -n "$PGPASSWORD" ] || PGPASSWORD=$(cat /etc/homeops/secrets/superuser/password); export PGPASSWORD; exec psql -X -At -v ON_ERROR_STOP=1 -h "$3" -U postgres -d "$0" -c "$1"',
    opts.database ?? 'homeops',
    sql,
    opts.password ?? '',
    opts.host ?? '/var/run/postgresql',
  );
  return out.trim();
}

/** Events the operator recorded about an object since a moment, oldest first. */
export async function eventRecords(
  client: KubeClient,
  namespace: string,
  name: string,
  since: number,
): Promise<{ action: string; reason: string; note: string; time: number }[]> {
  const list = await client.list<
    KubeObject & { action?: string; reason?: string; note?: string; eventTime?: string }
  >(Resources.Event, namespace);
  return list.items
    .filter(
      (e) =>
        (e as { regarding?: { name?: string } }).regarding?.name === name &&
        Date.parse(e.eventTime ?? '') >= since - 1000,
    )
    .map((e) => ({
      action: e.action ?? '',
      reason: e.reason ?? '',
      note: e.note ?? '',
      time: Date.parse(e.eventTime ?? ''),
    }))
    .sort((a, b) => a.time - b.time);
}

/** Events the operator recorded about an object, as action/reason pairs, since a moment. */
export async function eventsSince(
  client: KubeClient,
  namespace: string,
  name: string,
  since: number,
): Promise<string[]> {
  return (await eventRecords(client, namespace, name, since)).map((e) => `${e.action}/${e.reason}`);
}

export { freezePod } from './freezer.ts';
