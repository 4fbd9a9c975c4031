/**
 * Extensions on the real node, on the PostgreSQL 17 image (Debian trixie: TimescaleDB's Apache
 * build, pgvector): declared in spec.postgres.extensions, preloaded and made by the operator
 * before Ready, reported in status as the server has them; the builtin migrations make real
 * hypertables, and rollover drops their old chunks. An extension the image lacks is a named
 * reason in status, with the server untouched, and another database unaffected; that one runs
 * on the PostgreSQL 15 image, the image contract's other major.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HomeOpsDatabaseStatus, homeOpsDatabase } from '../../src/api/v1alpha1/index.ts';
import { jobSpec } from '../../src/controllers/dbjobs/builders.ts';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import type { JobKind } from '../../src/controllers/dbjobs/names.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { localImages, operatorImage, postgres15Image, psqlInPod } from '../support/realnode.ts';

type Db = KubeObject & { status?: HomeOpsDatabaseStatus };
type Pod = KubeObject & { status?: { containerStatuses?: { restartCount: number }[] } };

const TS = 'ts';
const BAD = 'noext';
const HYPERTABLES = [
  'analytics.events',
  'analytics.system_health',
  'network.performance_metrics',
  'system_optimization.performance_metrics',
];

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
const images = localImages();
const pg15 = postgres15Image();

const getDb = (name: string) => client.get<Db>(Resources.HomeOpsDatabase, ns.name, name);
const getPod = (name: string) => client.get<Pod>(Resources.Pod, ns.name, `${name}-0`);
const psql = (sql: string) => psqlInPod(ns.name, `${TS}-0`, sql);
const until = (name: string, type: string, status: string, reason?: string, ms = 300_000) =>
  eventually(
    async () => {
      const o = await getDb(name);
      const c = cond(o, type);
      if (
        c?.status === status &&
        (!reason || c.reason === reason) &&
        o.status?.observedGeneration === o.metadata.generation
      )
        return o;
      // What it is instead, for the failure message.
      throw new Error(
        `${name}: ${type} is ${JSON.stringify(c)}; generation ${o.metadata.generation}, observed ${o.status?.observedGeneration}; migrations ${JSON.stringify(o.status?.migrations)}`,
      );
    },
    ms,
    500,
  );
const reloptions = () =>
  psql(
    "SELECT array_to_string(reloptions, ',', '') FROM pg_class WHERE oid = 'media.item_embeddings_hnsw'::regclass",
  ).then((r) => `{${r}}`);
const patchSpec = (name: string, postgres: Record<string, unknown>) =>
  client.patch(Resources.HomeOpsDatabase, ns.name, name, { spec: { postgres } }, MERGE_PATCH);

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-ext');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-ext-${ns.name}`);
  registerHomeOpsDatabaseController(manager, { endpointMap: {}, serviceAddresses: 'cluster-ip', images });
  registerDatabaseJobsController(manager, { operatorImage: operatorImage() });
  await manager.start();
  const storage = { size: '1Gi', reclaimPolicy: 'Delete' };
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: TS, namespace: ns.name },
    spec: {
      postgres: { storage, extensions: ['pg_stat_statements', 'timescaledb', 'vector'] },
      pooler: { instances: 1 },
      timeseries: {
        hypertables: [
          {
            table: 'network.performance_metrics',
            timeColumn: 'time',
            chunkInterval: '1 day',
            retainFor: '7 days',
            compressAfter: '3 days',
          },
        ],
      },
      monitoring: { intervalSeconds: 5 },
    },
  });
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: BAD, namespace: ns.name },
    spec: {
      // The other major of the image contract: bookworm's PostgreSQL 15, without pgvector.
      postgres: { storage, image: pg15, extensions: ['vector'] },
      pooler: { enabled: false },
      migrations: { builtin: false },
      monitoring: { intervalSeconds: 5 },
    },
  });
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('extensions on the PostgreSQL 17 image', () => {
  it('preloads and makes the declared extensions before Ready; status shows what the server has', async () => {
    const o = await until(TS, 'Ready', 'True');
    const installed = Object.fromEntries((o.status?.extensions ?? []).map((e) => [e.name, e.version]));
    const inPod = Object.fromEntries(
      (await psql("SELECT string_agg(extname || '=' || extversion, ',') FROM pg_extension"))
        .split(',')
        .map((kv) => kv.split('=')),
    );
    expect(installed).toEqual(inPod);
    expect(installed.timescaledb).toMatch(/^2\./);
    expect(installed.vector).toMatch(/^0\.8/);
    expect(installed.pg_stat_statements).toBeTypeOf('string');
    // Debian's TimescaleDB is the Apache-2 build.
    expect(o.status?.timescale).toEqual({
      available: true,
      version: installed.timescaledb,
      license: 'apache',
    });
    expect(await psql('SHOW timescaledb.license')).toBe('apache');
    expect((await psql('SHOW shared_preload_libraries')).split(',')).toEqual([
      'pg_stat_statements',
      'timescaledb',
    ]);
    expect(cond(o, 'ExtensionsReady')).toMatchObject({ status: 'True', reason: 'Installed' });
  });

  it('lets the builtin migrations (run by the owner) make real hypertables', async () => {
    const o = await until(TS, 'MigrationsApplied', 'True', 'Applied');
    expect(o.status?.migrations?.result).toBe('Succeeded');
    const hypertables = await psql(
      "SELECT string_agg(hypertable_schema || '.' || hypertable_name, ',' ORDER BY 1) FROM timescaledb_information.hypertables",
    );
    expect(hypertables.split(',').sort()).toEqual(HYPERTABLES);
  });

  it('drops chunks past retainFor with a rollover Job, keeps the recent ones, and says compression needs the TSL', async () => {
    await psql(
      `INSERT INTO network.performance_metrics (time, node_id, metric_type, value)
       SELECT now() - make_interval(days => d), 'n1', 'cpu', d FROM unnest(ARRAY[20, 12, 1, 0]) d`,
    );
    const chunks = (where: string) =>
      psql(
        `SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = 'network' AND hypertable_name = 'performance_metrics' ${where}`,
      ).then(Number);
    expect(await chunks("AND range_end <= now() - interval '7 days'")).toBeGreaterThanOrEqual(2);
    await kubectl('create', 'job', '-n', ns.name, `--from=cronjob/${TS}-rollover`, `${TS}-rollover-now`);
    const o = await eventually(
      async () => {
        const d = await getDb(TS);
        const p = d.status?.partitions?.find((x) => x.table === 'network.performance_metrics');
        return p?.result === 'Succeeded' ? d : undefined;
      },
      180_000,
      500,
    );
    expect(await chunks("AND range_end <= now() - interval '7 days'")).toBe(0);
    expect(
      await psql("SELECT string_agg(value::int::text, ',' ORDER BY value) FROM network.performance_metrics"),
    ).toBe('0,1');
    const p = o.status!.partitions!.find((x) => x.table === 'network.performance_metrics')!;
    expect(p.count).toBe(await chunks(''));
    expect(p.skipped?.join(' ')).toMatch(/compression: this TimescaleDB build is apache; .*TSL/);
  });

  it('makes the embeddings table and its HNSW index with the spec parameters; the benchmark reports recall@10', async () => {
    // vector is declared and the builtin schema is on: the embeddings set ran with the builtin one.
    expect(
      await psql(`SELECT format_type(atttypid, atttypmod) FROM pg_attribute
      WHERE attrelid = 'media.item_embeddings'::regclass AND attname = 'embedding'`),
    ).toBe('vector(384)');
    expect(await reloptions()).toBe('{m=16,ef_construction=64}');
    // A little data (1,000 items, one vector each) by the job runner's seed-data, in a Job.
    const db = homeOpsDatabase.parse(await getDb(TS));
    db.metadata = { ...db.metadata, name: TS, namespace: ns.name };
    await client.create(Resources.Job, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: `${TS}-seed`, namespace: ns.name },
      spec: jobSpec(db, 'seed-data' as JobKind, ['--scale=0.01', '--seed=3'], operatorImage(), {
        backoffLimit: 0,
      }),
    });
    await eventually(
      async () => {
        const j = await client.get<KubeObject & { status?: { succeeded?: number; failed?: number } }>(
          Resources.Job,
          ns.name,
          `${TS}-seed`,
        );
        if (j.status?.failed)
          throw new Error(`seed Job failed: ${await kubectl('logs', '-n', ns.name, `job/${TS}-seed`)}`);
        return j.status?.succeeded ? j : undefined;
      },
      300_000,
      1000,
    );
    expect(await psql('SELECT count(*) FROM media.item_embeddings')).toBe('1000');
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      TS,
      { metadata: { annotations: { 'homeops.io/run': 'bench' } } },
      MERGE_PATCH,
    );
    const o = await eventually(
      async () => {
        const d = await getDb(TS);
        return d.status?.benchmarks?.scenarios?.length ? d : undefined;
      },
      300_000,
      1000,
    );
    const similar = o.status!.benchmarks!.scenarios!.find((x) => x.name === 'similar-media-items')!;
    expect(similar).toMatchObject({ targetMs: 10, p95Ms: expect.any(Number) });
    // Measured against the exact answer, on 20 items: a share, and the index finds most of it.
    expect(similar.recallAt10).toBeGreaterThan(0.5);
    expect(similar.recallAt10).toBeLessThanOrEqual(1);
    expect(
      o
        .status!.benchmarks!.scenarios!.filter((x) => x.name !== similar.name)
        .every((x) => x.recallAt10 === undefined),
    ).toBe(true);
  });

  it('rebuilds the index when m or ef_construction change (a repeatable migration), keeping the rows', async () => {
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      TS,
      { spec: { embeddings: { m: 8, efConstruction: 32 } } },
      MERGE_PATCH,
    );
    await eventually(
      async () => ((await reloptions()) === '{m=8,ef_construction=32}' ? true : undefined),
      300_000,
      1000,
    );
    const o = await until(TS, 'MigrationsApplied', 'True', 'Applied');
    expect(o.status?.migrations?.sets).toContain('embeddings/0002_hnsw_index');
    expect(o.status?.migrations?.lastApplied).toBe('embeddings/0002_hnsw_index');
    expect(await psql('SELECT count(*) FROM media.item_embeddings')).toBe('1000');
    // One index, valid, under its own name: the old one was dropped after the new one was built.
    expect(
      await psql(`SELECT string_agg(c.relname || ':' || i.indisvalid, ',') FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'media.item_embeddings'::regclass AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'hnsw')`),
    ).toBe('item_embeddings_hnsw:true');
  });

  it('names the Timescale License when a migration asks the Apache build for a continuous aggregate', async () => {
    await client.create(Resources.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cagg', namespace: ns.name },
      data: {
        '0001_hourly.sql': `CREATE MATERIALIZED VIEW analytics.events_hourly WITH (timescaledb.continuous) AS
  SELECT time_bucket('1 hour', "timestamp") AS bucket, count(*) FROM analytics.events GROUP BY 1 WITH NO DATA;`,
      },
    });
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      TS,
      { spec: { migrations: { configMaps: [{ name: 'cagg' }] } } },
      MERGE_PATCH,
    );
    const o = await until(TS, 'MigrationsApplied', 'False', 'TimescaleLicenseRequired');
    expect(cond(o, 'MigrationsApplied')?.message).toMatch(/apache.*Timescale License/s);
    expect(cond(o, 'Ready')?.status).toBe('True');
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      TS,
      { spec: { migrations: { configMaps: [] } } },
      MERGE_PATCH,
    );
    await until(TS, 'MigrationsApplied', 'True', 'Applied');
  });

  it('names an extension the image lacks, and a version it lacks, without touching the server; then recovers', async () => {
    const missing = await until(BAD, 'Ready', 'False', 'ExtensionUnavailable');
    const msg = cond(missing, 'Ready')!.message!;
    expect(msg).toContain('vector');
    expect(msg).toContain(pg15);
    expect(cond(missing, 'PrimaryAvailable')?.status).toBe('True');
    const pod = await getPod(BAD);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);

    await patchSpec(BAD, { extensions: ['pg_stat_statements@9.9.9'] });
    const version = await until(BAD, 'ExtensionsReady', 'False', 'ExtensionUnavailable');
    expect(cond(version, 'ExtensionsReady')?.message).toMatch(
      /pg_stat_statements version 9\.9\.9 .*\(it has 1\./,
    );
    expect(cond(version, 'Ready')?.reason).toBe('ExtensionUnavailable');

    await patchSpec(BAD, { extensions: [] });
    const fixed = await until(BAD, 'Ready', 'True');
    expect(fixed.status?.extensions?.map((e) => e.name)).toContain('pg_stat_statements');
    expect(fixed.status?.timescale).toEqual({ available: false });
    expect(await psqlInPod(ns.name, `${BAD}-0`, 'SHOW server_version_num')).toMatch(/^15/);
    // Nothing needed a restart: the same pod, never restarted.
    const after = await getPod(BAD);
    expect(after.metadata.uid).toBe(pod.metadata.uid);
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    // The other database went on serving.
    expect(cond(await getDb(TS), 'Ready')?.status).toBe('True');
  });

  it('refuses to unload timescaledb under its hypertables when it is no longer declared', async () => {
    const before = await getPod(TS);
    await patchSpec(TS, { timescale: 'disabled', extensions: ['pg_stat_statements', 'vector'] });
    const o = await until(TS, 'ExtensionsReady', 'False', 'ExtensionRemovalRefused');
    expect(cond(o, 'ExtensionsReady')?.message).toContain('timescaledb');
    expect(cond(o, 'Ready')?.status).toBe('True');
    // Still loaded, still installed, the same pod: the hypertables answer.
    expect((await psql('SHOW shared_preload_libraries')).split(',')).toContain('timescaledb');
    expect(await psql('SELECT count(*) FROM timescaledb_information.hypertables')).toBe('4');
    expect((await getPod(TS)).metadata.uid).toBe(before.metadata.uid);
  });
});
