/**
 * Backups into a real S3 server (issue 26): SeaweedFS from its Go module (hack/s3.sh), HTTPS
 * with a certificate of the harness's own CA, on an address of this machine that the real
 * node's pods reach. The primary archives WAL there and the backup Jobs write there; a database
 * is restored from the bucket to a time; the store stopped under writes turns archiving False
 * and then catches up with no segment missing; a rotated key is used without a restart.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgbackrestCommand } from '../../src/controllers/homeopsdatabase/backup.ts';
import { type KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import { Resources } from '../../src/runtime/types.ts';
import { backupEnv, type backupSteps, condIs } from '../support/backups.ts';
import { cond } from '../support/conditions.ts';
import { dataplane } from '../support/dataplane.ts';
import { eventually, kubectl } from '../support/kube.ts';
import { eventsSince } from '../support/realnode.ts';

const NAME = 's3bk';
const CREDS = 's3-creds';
let live: Awaited<ReturnType<typeof backupEnv>>;
let ns: Awaited<ReturnType<typeof backupEnv>>['ns'];
let client: KubeClient;
let steps: ReturnType<typeof backupSteps>;
let env: Record<string, string>;
let started = '';

const hack = (...args: string[]) =>
  execFileSync('bash', [join(import.meta.dirname, '..', '..', 'hack', 'dataplane.sh'), ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
/** The bucket's keys under a prefix, listed by the host with the first identity (ListObjectsV2). */
const listBucket = (prefix: string) =>
  execFileSync(
    'curl',
    [
      '-sS',
      '--fail',
      '--cacert',
      env.HOMEOPS_S3_CA_FILE!,
      '--aws-sigv4',
      'aws:amz:us-east-1:s3',
      '--user',
      `${env.HOMEOPS_S3_ACCESS_KEY}:${env.HOMEOPS_S3_SECRET_KEY}`,
      `https://${env.HOMEOPS_S3_ENDPOINT}/${env.HOMEOPS_S3_BUCKET}?list-type=2&max-keys=1000&prefix=${encodeURIComponent(prefix)}`,
    ],
    { encoding: 'utf8' },
  )
    .split('<Key>')
    .slice(1)
    .map((k) => k.slice(0, k.indexOf('</Key>')));
const setKeys = (accessKeyId: string, secretAccessKey: string) =>
  client.patch(
    Resources.Secret,
    ns.name,
    CREDS,
    { stringData: { accessKeyId, secretAccessKey } },
    MERGE_PATCH,
  );
const s3Repo = (extra: Record<string, unknown> = {}) => ({
  s3: {
    endpoint: env.HOMEOPS_S3_ENDPOINT,
    bucket: env.HOMEOPS_S3_BUCKET,
    uriStyle: 'path',
    credentials: { name: CREDS },
    caSecretRef: { name: 's3-ca' },
    ...extra,
  },
});

beforeAll(async () => {
  env = dataplane();
  live = await backupEnv('e2e-backup-s3');
  ({ ns, client, steps } = live);
  for (const [name, stringData] of [
    [CREDS, { accessKeyId: env.HOMEOPS_S3_ACCESS_KEY!, secretAccessKey: env.HOMEOPS_S3_SECRET_KEY! }],
    ['s3-ca', { 'ca.crt': readFileSync(env.HOMEOPS_S3_CA_FILE!, 'utf8') }],
  ] as const)
    await client.create(Resources.Secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns.name },
      stringData,
    });
  await steps.createDb(NAME, { backup: { repository: s3Repo(), archiveTimeoutSeconds: 10 } });
});

afterAll(async () => {
  // A failed fault test must not leave the store down for the next file.
  hack('start-s3');
  await live?.stop();
});

describe('backups into a real S3 server (SeaweedFS, HTTPS, a private CA)', () => {
  it('the first full backup goes to the bucket by itself; the keys are nowhere but their Secret', async () => {
    const o = await steps.until(
      NAME,
      'the first backup',
      condIs('BackupSucceeded', 'True', 'Succeeded'),
      420_000,
    );
    const info = await steps.repoInfo(NAME);
    expect(info.backups.map((b) => b.label)).toEqual(o.status!.backup!.backups!.map((b) => b.label));
    // In the bucket, under the database's own path, as the host lists it.
    const keys = listBucket(`homeops/${ns.name}/${NAME}/`);
    expect(keys.some((k) => k.includes(`/backup/db/${info.backups[0]!.label}/`))).toBe(true);
    expect(keys.some((k) => k.includes('/archive/db/'))).toBe(true);
    const secret = env.HOMEOPS_S3_SECRET_KEY!;
    for (const kind of ['statefulset', 'configmap', 'pod', 'homeopsdatabase', 'events', 'job'])
      expect(await kubectl('get', kind, '-n', ns.name, '-o', 'json')).not.toContain(secret);
    started = await steps.psql(NAME, 'SELECT pg_postmaster_start_time()');
  });

  it('point-in-time recovery from the bucket: exactly the rows at T', async () => {
    await steps.pitr(NAME, 's3bk-pitr');
    // Done with it: its pod only takes the node's memory.
    await client.delete(Resources.HomeOpsDatabase, ns.name, 's3bk-pitr');
  });

  it('the store stopped for two minutes under writes: False and a Warning; then it catches up, no segment missing', async () => {
    const since = Date.now();
    await steps.archived(NAME);
    hack('stop-s3');
    // Every reason and message ContinuousArchiving had while the store was down.
    const seen = new Map<string, string>();
    try {
      const end = Date.now() + 120_000;
      for (let i = 0; Date.now() < end; i++) {
        await steps.psql(
          NAME,
          'CREATE TABLE IF NOT EXISTS w (i int); INSERT INTO w SELECT generate_series(1, 1000)',
        );
        if (i % 5 === 0) await steps.psql(NAME, 'SELECT pg_switch_wal()');
        const c = cond(await steps.getDb(NAME), 'ContinuousArchiving');
        if (c?.status === 'False') seen.set(c.reason, c.message ?? '');
        await new Promise((r) => setTimeout(r, 2000));
      }
      // pgBackRest 2.55's asynchronous push retries a refused connection without end and
      // leaves no error file (pgbackrest#2654), so the reason is the archive command's own
      // failure; a named one only when pgBackRest reports it.
      const reasons = [...seen.keys()];
      expect(reasons.length, JSON.stringify([...seen])).toBeGreaterThan(0);
      for (const r of reasons) expect(['ArchiveFailed', 'RepositoryUnreachable']).toContain(r);
      const events = await eventsSince(client, ns.name, NAME, since);
      expect(
        events.some((e) => reasons.some((r) => e === `ContinuousArchiving/${r}`)),
        events.join(),
      ).toBe(true);
    } finally {
      hack('start-s3');
    }
    const stopped = await steps.psql(NAME, 'SELECT pg_walfile_name(pg_current_wal_lsn())');
    await steps.until(NAME, 'archiving again', condIs('ContinuousArchiving', 'True', 'Archiving'), 240_000);
    await steps.archived(NAME);
    // Every segment reached the bucket: check archives one and waits for it; verify reads the
    // repository and fails on a gap or a damaged file.
    await steps.inPod(NAME, ...pgbackrestCommand('check'));
    await steps.inPod(NAME, ...pgbackrestCommand('verify'));
    const walKeys = new Set(
      listBucket(`homeops/${ns.name}/${NAME}/archive/db/`)
        .map((k) => /([0-9A-F]{24})-[0-9a-f]{40}/.exec(k)?.[1])
        .filter((k): k is string => !!k),
    );
    const first = (await steps.getDb(NAME)).status!.backup!.lastSuccessful!.walStart!;
    const seg = (w: string) => Number.parseInt(w.slice(8, 16), 16) * 256 + Number.parseInt(w.slice(16), 16);
    const name = (n: number) =>
      `${first.slice(0, 8)}${Math.floor(n / 256)
        .toString(16)
        .toUpperCase()
        .padStart(8, '0')}${(n % 256).toString(16).toUpperCase().padStart(8, '0')}`;
    for (let n = seg(first); n <= seg(stopped); n++)
      expect(walKeys.has(name(n)), `WAL ${name(n)} in the bucket`).toBe(true);
    expect(await steps.psql(NAME, 'SELECT pg_postmaster_start_time()')).toBe(started);
  });

  it('a rotated key is used by the next archive-push and backup, without a restart; a wrong one is named', async () => {
    const since = Date.now();
    await setKeys(env.HOMEOPS_S3_ACCESS_KEY!, 'not-the-secret');
    await steps.psql(NAME, 'INSERT INTO w SELECT generate_series(1, 1000)');
    await steps.until(
      NAME,
      'archiving refused',
      condIs('ContinuousArchiving', 'False', 'RepositoryAccessDenied'),
      240_000,
    );
    expect(await eventsSince(client, ns.name, NAME, since)).toContain(
      'ContinuousArchiving/RepositoryAccessDenied',
    );
    // The second identity's key: archiving resumes with it.
    await setKeys(env.HOMEOPS_S3_ACCESS_KEY_2!, env.HOMEOPS_S3_SECRET_KEY_2!);
    await steps.until(
      NAME,
      'archiving with the new key',
      condIs('ContinuousArchiving', 'True', 'Archiving'),
      240_000,
    );
    const before = (await steps.getDb(NAME)).status!.backup!.backups!.length;
    await steps.run(NAME, 'backup-incr');
    await steps.until(
      NAME,
      'an incremental backup with the new key',
      (d) => (d.status?.backup?.backups?.length ?? 0) > before,
    );
    expect(await steps.psql(NAME, 'SELECT pg_postmaster_start_time()')).toBe(started);
  });

  it('a credentials Secret that does not exist: Stalled with its name, nothing made; made, the database goes on', async () => {
    await steps.createDb('s3-nokey', {
      backup: { repository: s3Repo({ credentials: { name: 'not-yet' } }) },
    });
    await steps.until('s3-nokey', 'Stalled', condIs('Stalled', 'True', 'BackupSecretNotFound'), 120_000);
    await expect(client.get(Resources.StatefulSet, ns.name, 's3-nokey')).rejects.toMatchObject({
      notFound: true,
    });
    await client.create(Resources.Secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'not-yet', namespace: ns.name },
      stringData: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await eventually(() => client.get(Resources.StatefulSet, ns.name, 's3-nokey'), 120_000);
    await client.delete(Resources.HomeOpsDatabase, ns.name, 's3-nokey');
  });
});
