/**
 * The operator installed as users install it, on the real node: the chart with the pinned Helm
 * (two replicas from the operator image built here, leader election, the generated RBAC), then
 * failover, upgrade, uninstall, the namespace-scoped mode, and the plain manifests with
 * `kubectl apply --server-side`. Nothing here runs the operator out of the cluster.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import { KubeApiError } from '../../src/runtime/errors.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { adoptCrdCommands, CHART, helm } from '../support/chart.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { freezePod } from '../support/freezer.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { linesAbout } from '../support/logs.ts';
import { localImages, operatorImage, psqlInPod } from '../support/realnode.ts';

const repo = join(import.meta.dirname, '..', '..');
const RELEASE = 'homeops-operator';
const SELECTOR = `app.kubernetes.io/instance=${RELEASE}`;
const DB = 'homeops-full';
const LEASE_SECONDS = 15;
const RETRY_SECONDS = 2;
const PLAIN_NS = 'homeops-system'; // the namespace manifests/install/ is rendered for

type Cond = { type: string; status: string; reason?: string; message?: string };
type Db = KubeObject & { status?: { observedGeneration?: number; conditions?: Cond[] } };
type Pod = KubeObject & {
  spec?: { containers: { args?: string[] }[] };
  status?: { phase?: string; conditions?: Cond[]; containerStatuses?: { ready: boolean }[] };
};
type Lease = KubeObject & { spec?: { holderIdentity?: string; renewTime?: string; acquireTime?: string } };

let kc: KubeConfig;
let client: KubeClient;
let opsNs: string;
let app: Awaited<ReturnType<typeof testNamespace>>;
let watched: Awaited<ReturnType<typeof testNamespace>>;
let outside: Awaited<ReturnType<typeof testNamespace>>;
let plainApplied = false;

const run = promisify(execFile);
async function helmCmd(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(helm(), ['--kubeconfig', inject('kubeconfig'), ...args], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`helm ${args.slice(0, 2).join(' ')}: ${err.stderr || err.message}`);
  }
}

/** helm install of the chart with the local images (and `extra` flags), CRDs adopted first. */
async function install(...extra: string[]): Promise<void> {
  await adoptCrds(opsNs);
  await helmCmd(
    'install',
    RELEASE,
    CHART,
    '-n',
    opsNs,
    '--create-namespace',
    ...localValues(),
    ...extra,
    ...WAIT,
  );
}
const WAIT = ['--wait', '--timeout', '5m'];
const upgrade = (chart: string, ...extra: string[]) =>
  helmCmd('upgrade', RELEASE, chart, '-n', opsNs, '--reuse-values', ...extra, ...WAIT);

/** --set values that point the chart at the images built on this machine. */
function localValues(): string[] {
  const image = operatorImage();
  const i = image.lastIndexOf(':');
  const imgs = localImages();
  return [
    `image.repository=${image.slice(0, i)}`,
    `image.tag=${image.slice(i + 1)}`,
    `operator.images.postgres=${imgs.postgres}`,
    `operator.images.timescale=${imgs.timescale}`,
    `operator.images.pgbouncer=${imgs.pgbouncer}`,
    `operator.images.redis=${imgs.redis}`,
  ].flatMap((s) => ['--set', s]);
}

/**
 * CRDs another tool applied (here, the other test files) are adopted by a release as Helm
 * documents it: its ownership label and annotations. The README gives the same commands.
 */
async function adoptCrds(namespace: string): Promise<void> {
  for (const args of adoptCrdCommands(RELEASE, namespace)) await kubectl(...args);
}

const operatorPods = async (namespace: string) =>
  (await client.list<Pod>(Resources.Pod, namespace, { labelSelector: SELECTOR })).items;
const isReady = (p: Pod) =>
  p.status?.phase === 'Running' &&
  !p.metadata.deletionTimestamp &&
  p.status.containerStatuses?.[0]?.ready === true;
const readyPods = async (namespace: string, n: number) => {
  const pods = (await operatorPods(namespace)).filter(isReady);
  return pods.length === n ? pods : undefined;
};
const lease = (namespace: string, name: string) => client.get<Lease>(Resources.Lease, namespace, name);
const getDb = (namespace: string) => client.get<Db>(Resources.HomeOpsDatabase, namespace, DB);
const dbReady = async (namespace: string) => {
  const db = await getDb(namespace);
  return cond(db, 'Ready')?.status === 'True' && db.status?.observedGeneration === db.metadata.generation
    ? db
    : undefined;
};
/** Waits until the object's condition `type` passes `ok`, and returns the object. */
const whenCondition = (get: () => Promise<Db>, type: string, ok: (c: Cond) => boolean, timeoutMs = 240_000) =>
  eventually(
    async () => {
      const o = await get();
      const c = cond(o, type);
      return c && ok(c) ? o : undefined;
    },
    timeoutMs,
    1000,
  );
/** A spec change of the database (a new generation to observe). */
const changeSpec = (slowQueryMs: number) =>
  client.patch<Db>(
    Resources.HomeOpsDatabase,
    app.name,
    DB,
    { spec: { monitoring: { slowQueryMs } } },
    MERGE_PATCH,
  );
const exists = (p: Promise<unknown>) =>
  p.then(
    () => true,
    (e) => {
      if (e instanceof KubeApiError && e.notFound) return false;
      throw e;
    },
  );

/**
 * The health fixtures: real objects, as the operator in a pod left them, for the Argo CD and
 * kstatus checks (test/unit/health.test.ts). Written to test/fixtures/health when
 * HOMEOPS_CAPTURE_HEALTH=1; the states are asserted here either way.
 */
function capture(name: string, o: KubeObject & { spec?: unknown; status?: unknown }): void {
  if (process.env.HOMEOPS_CAPTURE_HEALTH !== '1') return;
  const { name: n, namespace, generation, creationTimestamp } = o.metadata;
  const kept = {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: n, namespace, generation, creationTimestamp },
    spec: o.spec,
    ...(o.status ? { status: o.status } : {}),
  };
  writeFileSync(
    join(repo, 'test', 'fixtures', 'health', `${name}.json`),
    `${JSON.stringify(kept, null, 2)}\n`,
  );
}

/** Every line of every operator pod's log. */
async function operatorLogs(namespace: string): Promise<string> {
  const pods = await operatorPods(namespace);
  const logs = await Promise.all(
    pods.map((p) => kubectl('logs', '-n', namespace, p.metadata.name!).catch((e) => String(e))),
  );
  return logs.join('\n');
}

/**
 * The refusals in the operator's log about what this file made, or cluster-wide: the operator
 * is installed cluster-wide and may meet what other files left on the cluster.
 */
async function refusals(namespace: string): Promise<string[]> {
  const own = [app, watched, outside].filter(Boolean).map((n) => n.name);
  return linesAbout(await operatorLogs(namespace), /forbidden/i, [...own, opsNs, PLAIN_NS]);
}

beforeAll(async () => {
  kc = kubeConfig();
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  await installCrds(kc);
  app = await testNamespace(kc, 'helm-app');
  watched = await testNamespace(kc, 'helm-watched');
  outside = await testNamespace(kc, 'helm-outside');
  for (const ns of [app, watched, outside]) await waitForServiceAccount(kc, ns.name);
  opsNs = `homeops-e2e-${app.name.split('-').pop()}`;
});

afterAll(async () => {
  // Whatever happened above: a running operator removes the database's finalizer, then nothing
  // of the operator stays but the CRDs (the other test files need them).
  const plain = plainApplied ? PLAIN_NS : undefined;
  if (plain) {
    await client.delete(Resources.HomeOpsDatabase, app.name, DB).catch(() => undefined);
    await eventually(async () => !(await exists(getDb(app.name))), 120_000).catch(() => undefined);
    // Not `kubectl delete -f`: that would delete the CRDs, and every custom resource with them.
    await kubectl('delete', 'clusterrole,clusterrolebinding', '-l', SELECTOR).catch(() => undefined);
    await kubectl('delete', 'namespace', PLAIN_NS, '--wait=false').catch(() => undefined);
  }
  await helmCmd('uninstall', RELEASE, '-n', opsNs, '--wait').catch(() => undefined);
  // Each namespace goes with its objects' finalizers dropped (the operator is uninstalled).
  for (const ns of [app, watched, outside]) await ns?.cleanup();
  await kubectl('delete', 'namespace', opsNs, '--wait=false').catch(() => undefined);
});

describe('the Helm chart on the real node', () => {
  it('installs: two operator pods from the image built here, one holding the Lease; the full sample becomes Ready', async () => {
    await install();
    const pods = await eventually(() => readyPods(opsNs, 2), 120_000);
    const names = pods.map((p) => p.metadata.name!);
    const holder = await eventually(
      async () => (await lease(opsNs, `${RELEASE}-leader`)).spec?.holderIdentity,
      60_000,
    );
    expect(names).toContain(holder);

    // The image: non-root, read-only root filesystem, and the job runner answers.
    expect((await kubectl('exec', '-n', opsNs, holder, '--', 'id', '-u')).trim()).toBe('1000');
    const touch = await kubectl('exec', '-n', opsNs, holder, '--', 'touch', '/app/probe').catch((e) =>
      String(e),
    );
    expect(touch).toMatch(/Read-only file system/);
    const usage = await kubectl(
      'exec',
      '-n',
      opsNs,
      holder,
      '--',
      'node',
      '/app/dist/main.js',
      'job',
      '--help',
    );
    expect(usage).toMatch(/migrate/);

    const sample = parse(
      readFileSync(join(repo, 'manifests', 'samples', 'homeopsdatabase-full.yaml'), 'utf8'),
    );
    sample.metadata.namespace = app.name;
    sample.spec.monitoring = { ...sample.spec.monitoring, intervalSeconds: 5 };
    await client.create(Resources.HomeOpsDatabase, sample);
    capture('homeopsdatabase-ready', await eventually(() => dbReady(app.name), 300_000, 1000));
    await psqlInPod(
      app.name,
      `${DB}-0`,
      "CREATE TABLE helm_kept (v text); INSERT INTO helm_kept VALUES ('kept');",
    );
    expect(await refusals(opsNs)).toEqual([]);
  });

  it('fails over: with the leader frozen, the standby takes the Lease within the lease duration, and the database stays Ready', async () => {
    const before = await lease(opsNs, `${RELEASE}-leader`);
    const leader = before.spec!.holderIdentity!;
    const leaderPod = await client.get<Pod>(Resources.Pod, opsNs, leader);
    const notReady: string[] = [];
    const frozenAt = Date.now();
    freezePod(leaderPod.metadata.uid!, true);
    try {
      const after = await eventually(
        async () => {
          const db = await getDb(app.name);
          if (cond(db, 'Ready')?.status !== 'True') notReady.push(JSON.stringify(cond(db, 'Ready')));
          const l = await lease(opsNs, `${RELEASE}-leader`);
          return l.spec?.holderIdentity !== leader ? l : undefined;
        },
        60_000,
        500,
      );
      const handover = (Date.now() - frozenAt) / 1000;
      console.info(
        `handover after ${handover.toFixed(1)} s (lease ${LEASE_SECONDS} s, retry ${RETRY_SECONDS} s)`,
      );
      expect(handover).toBeLessThan(LEASE_SECONDS + 2 * RETRY_SECONDS + 3);
      expect(after.spec?.holderIdentity).not.toBe(leader);
      // The new leader reconciles: a spec change is observed.
      await changeSpec(900);
      await eventually(() => dbReady(app.name), 60_000, 500);
      expect(notReady).toEqual([]);
    } finally {
      freezePod(leaderPod.metadata.uid!, false);
    }
    await kubectl('delete', 'pod', '-n', opsNs, leader, '--wait=false');
    await eventually(() => readyPods(opsNs, 2), 120_000);
  });

  it('upgrades: a changed value rolls the operator; a changed CRD is updated in the cluster', async () => {
    const old = (await operatorPods(opsNs)).map((p) => p.metadata.name!);
    await upgrade(CHART, '--set', 'operator.logLevel=debug');
    const pods = await eventually(async () => {
      const ready = await readyPods(opsNs, 2);
      return ready?.every((p) => !old.includes(p.metadata.name!)) ? ready : undefined;
    }, 180_000);
    for (const p of pods) expect(p.spec?.containers[0]?.args).toContain('--log-level=debug');
    await eventually(() => dbReady(app.name), 120_000, 1000);

    // A chart whose CRD gained an optional field: helm upgrade updates the CRD in place.
    const dir = mkdtempSync(join(tmpdir(), 'homeops-chart-'));
    cpSync(CHART, dir, { recursive: true });
    const crdFile = join(dir, 'files', 'crds', 'homeops.io_homeopsdatabases.yaml');
    const crd = parse(readFileSync(crdFile, 'utf8'));
    crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.upgradeProbe = {
      type: 'string',
      description: 'Added by the upgrade test.',
    };
    writeFileSync(crdFile, stringify(crd));
    await upgrade(dir);
    const field = (o: string) =>
      JSON.parse(o).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.upgradeProbe;
    expect(field(await kubectl('get', 'crd', 'homeopsdatabases.homeops.io', '-o', 'json'))).toMatchObject({
      type: 'string',
    });
    // And back to the chart as it is.
    await upgrade(CHART);
    expect(field(await kubectl('get', 'crd', 'homeopsdatabases.homeops.io', '-o', 'json'))).toBeUndefined();
    await eventually(() => dbReady(app.name), 120_000, 1000);
  });

  it('uninstalls: the CRDs, the database and its data stay', async () => {
    await helmCmd('uninstall', RELEASE, '-n', opsNs, '--wait');
    expect(await exists(client.get(Resources.Deployment, opsNs, RELEASE))).toBe(false);
    expect(await kubectl('get', 'clusterrole', '-l', SELECTOR, '-o', 'name')).toBe('');
    for (const plural of ['homeopsdatabases', 'cachetiers', 'replicasets'])
      expect((await kubectl('get', 'crd', `${plural}.homeops.io`, '-o', 'name')).trim()).toBe(
        `customresourcedefinition.apiextensions.k8s.io/${plural}.homeops.io`,
      );
    expect(await exists(getDb(app.name))).toBe(true);
    expect(await psqlInPod(app.name, `${DB}-0`, 'SELECT v FROM helm_kept')).toBe('kept');
    // Nothing reconciles now: a spec change stays unobserved.
    const changed = await changeSpec(700);
    await new Promise((r) => setTimeout(r, 5000));
    const unobserved = await getDb(app.name);
    expect(unobserved.metadata.generation).toBe(changed.metadata.generation);
    expect(unobserved.status?.observedGeneration).toBeLessThan(unobserved.metadata.generation!);
    capture('homeopsdatabase-not-observed', unobserved);
  });

  it('with watchNamespaces: Roles only, works in its namespaces, ignores a resource outside them, no RBAC error', async () => {
    await install('--set', `watchNamespaces={${watched.name}}`);
    expect(await kubectl('get', 'clusterrole,clusterrolebinding', '-l', SELECTOR, '-o', 'name')).toBe('');
    const tier = (namespace: string) => ({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'CacheTier',
      metadata: { name: 'cache', namespace },
      spec: { healthCheckIntervalSeconds: 5 },
    });
    await client.create(Resources.CacheTier, tier(watched.name));
    await client.create(Resources.CacheTier, tier(outside.name));
    await client.create(Resources.CacheTier, {
      ...tier(watched.name),
      metadata: { name: 'toobig', namespace: watched.name },
      spec: { maxMemory: '2gb', resources: { limits: { memory: '256Mi' } } },
    });
    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'badimage', namespace: watched.name },
      spec: {
        postgres: { image: 'localhost/homeops/no-such-image:1', storage: { reclaimPolicy: 'Delete' } },
        pooler: { enabled: false },
        monitoring: { intervalSeconds: 5 },
      },
    });
    const getTier = (ns: string, name: string) => client.get<Db>(Resources.CacheTier, ns, name);
    const states: [string, () => Promise<Db>, string, (c: Cond) => boolean, number][] = [
      ['cachetier-ready', () => getTier(watched.name, 'cache'), 'Ready', (c) => c.status === 'True', 240_000],
      [
        'cachetier-stalled',
        () => getTier(watched.name, 'toobig'),
        'Stalled',
        (c) => c.status === 'True',
        60_000,
      ],
      [
        'homeopsdatabase-image-pull',
        () => client.get<Db>(Resources.HomeOpsDatabase, watched.name, 'badimage'),
        'Ready',
        (c) => /Image|Pull/.test(c.reason ?? ''),
        120_000,
      ],
    ];
    for (const [fixture, get, type, ok, timeout] of states)
      capture(fixture, await whenCondition(get, type, ok, timeout));
    // Outside: no status, nothing made, and the database of the first install untouched too.
    await new Promise((r) => setTimeout(r, 10_000));
    const ignored = await getTier(outside.name, 'cache');
    expect(ignored.status).toBeUndefined();
    capture('cachetier-no-status', ignored);
    expect((await client.list(Resources.StatefulSet, outside.name)).items).toEqual([]);
    expect(await refusals(opsNs)).toEqual([]);
    await helmCmd('uninstall', RELEASE, '-n', opsNs, '--wait');
  });

  it('installs the same from the plain manifests with kubectl apply --server-side', async () => {
    // The plain YAML with the local images, as a user overrides them: kustomize over it.
    const dir = mkdtempSync(join(tmpdir(), 'homeops-install-'));
    cpSync(join(repo, 'manifests', 'install', 'homeops-operator.yaml'), join(dir, 'homeops-operator.yaml'));
    const image = operatorImage();
    const imgs = localImages();
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        resources: ['homeops-operator.yaml'],
        patches: [
          {
            target: { kind: 'Deployment', name: RELEASE },
            patch: stringify([
              { op: 'replace', path: '/spec/template/spec/containers/0/image', value: image },
              ...[
                `--operator-image=${image}`,
                `--postgres-image=${imgs.postgres}`,
                `--timescale-image=${imgs.timescale}`,
                `--pgbouncer-image=${imgs.pgbouncer}`,
                `--redis-image=${imgs.redis}`,
              ].map((value) => ({ op: 'add', path: '/spec/template/spec/containers/0/args/-', value })),
            ]),
          },
        ],
      }),
    );
    plainApplied = true;
    await kubectl('apply', '--server-side', '-k', dir);
    await eventually(() => readyPods(PLAIN_NS, 2), 180_000);
    const holder = await eventually(
      async () => (await lease(PLAIN_NS, `${RELEASE}-leader`).catch(() => undefined))?.spec?.holderIdentity,
      60_000,
    );
    expect((await operatorPods(PLAIN_NS)).map((p) => p.metadata.name)).toContain(holder);
    // The same objects as the chart renders.
    const docs = parseAllDocuments(readFileSync(join(dir, 'homeops-operator.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
      .filter((d) => !!d);
    expect(docs.length).toBeGreaterThan(10);
    for (const d of docs)
      expect(
        (
          await kubectl(
            'get',
            d.kind,
            d.metadata.name,
            ...(d.metadata.namespace ? ['-n', d.metadata.namespace] : []),
            '-o',
            'name',
          )
        ).trim(),
      ).not.toBe('');
    // It reconciles the database the chart's operator left behind.
    await changeSpec(800);
    await eventually(() => dbReady(app.name), 120_000, 1000);
    // The third kind under the plain install: a replica of the database, and one of nothing.
    const rs = (name: string, database: string) => ({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: app.name },
      spec: { databaseRef: { name: database }, replicas: 1, storage: { reclaimPolicy: 'Delete' } },
    });
    await client.create(Resources.ReplicaSet, rs('read', DB));
    await client.create(Resources.ReplicaSet, rs('orphan', 'no-such-database'));
    const states: [string, () => Promise<Db>, string, (c: Cond) => boolean, number][] = [
      [
        'replicaset-ready',
        () => client.get<Db>(Resources.ReplicaSet, app.name, 'read'),
        'Ready',
        (c) => c.status === 'True',
        240_000,
      ],
      [
        'replicaset-database-missing',
        () => client.get<Db>(Resources.ReplicaSet, app.name, 'orphan'),
        'Ready',
        (c) => c.reason === 'DatabaseNotFound',
        60_000,
      ],
    ];
    for (const [fixture, get, type, ok, timeout] of states)
      capture(fixture, await whenCondition(get, type, ok, timeout));
    for (const name of ['read', 'orphan']) await client.delete(Resources.ReplicaSet, app.name, name);
    expect(await refusals(PLAIN_NS)).toEqual([]);
  });
});
