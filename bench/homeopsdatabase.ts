/**
 * The HomeOpsDatabase controller end to end on the local stack: for 1, 10 and 100 databases,
 * the time from apply until all children are applied and until Ready (median and p95 per
 * database), the operator's RSS, and its API requests per database to converge and during an
 * idle minute (from the API server's audit log). Every database is probed for real: the
 * operator's endpoint map sends each one's Services to the local PostgreSQL and PgBouncer.
 *   node bench/homeopsdatabase.ts [sizes=1,10,100] [idleSeconds=60]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { dbLabels } from '../src/controllers/homeopsdatabase/names.ts';
import { KubeClient } from '../src/runtime/client.ts';
import { Informer } from '../src/runtime/informer.ts';
import { type KubeObject, Resources, type ResourceType } from '../src/runtime/types.ts';
import { onKwok } from '../test/support/kwok.ts';
import { printSummary } from './heap.ts';
import { startOperator } from './operator.ts';
import { throttle } from './throttle.ts';

const sizes = (process.argv[2] ?? '1,10,100').split(',').map(Number);
const IDLE_S = Number(process.argv[3] ?? 60);
/** Seconds between convergence and the idle window (HOMEOPS_BENCH_SETTLE_S; five probe intervals). */
const SETTLE_S = Number(process.env.HOMEOPS_BENCH_SETTLE_S ?? 150);
/**
 * Noise: this many extra namespaces, each with 100 Secrets and 100 ConfigMaps the operator has
 * nothing to do with, made first; the operator then watches every namespace. 0: none, and the
 * operator watches only the benchmark's namespace.
 */
const NOISE = Number(process.env.HOMEOPS_BENCH_NOISE ?? 0);
/** Node's heap limit for the operator (MiB), as a container memory limit would set it; none when 0. */
const MAX_OLD_SPACE = Number(process.env.HOMEOPS_BENCH_MAX_OLD_SPACE ?? 0);
/**
 * The benchmark makes each database's Secrets (the local servers' passwords). They carry the
 * operator's labels unless HOMEOPS_BENCH_SECRETS=unlabelled (then the operator reads and adopts
 * each: 8 requests per database more).
 */
const UNLABELLED_SECRETS = process.env.HOMEOPS_BENCH_SECRETS === 'unlabelled';
/**
 * The operator throttled (bench/throttle.ts): `apf` (API Priority and Fairness, the smallest
 * share, 429s), `503=20` (a fault proxy answering 20 % with 503), or both; it then runs as its
 * ServiceAccount with leader election.
 */
const THROTTLE = process.env.HOMEOPS_BENCH_THROTTLE;
/** One database whose every status the benchmark prints (HOMEOPS_BENCH_TRACE=db-0): what each write changed. */
const TRACE = process.env.HOMEOPS_BENCH_TRACE;
const repo = join(import.meta.dirname, '..');
const hack = (script: string, cmd: string) =>
  execFileSync('bash', [join(repo, 'hack', script), cmd], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .trim()
    .split('\n')
    .pop()!;
const kubeconfig = hack('cluster.sh', 'up');
const env = Object.fromEntries(
  readFileSync(hack('dataplane.sh', 'up'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/=(.*)/s).slice(0, 2)),
) as Record<string, string>;
execFileSync('bash', [
  '-c',
  `eval "$(${join(repo, 'hack/cluster.sh')} env)"; kubectl apply --server-side -f ${join(repo, 'crds')} >/dev/null; kubectl wait --for=condition=Established crd --all >/dev/null`,
]);
const auditLog = join(kubeconfig, '..', 'audit.log');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const client = new KubeClient(kc, { userAgent: 'homeops-bench' });
const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
async function inBatches<T>(items: T[], size: number, fn: (t: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}
/** The operator's requests between two times, by verb, and by verb and resource. */
function requests(identity: string, from: Date, to: Date) {
  const byVerb: Record<string, number> = {};
  const byResource: Record<string, number> = {};
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes(identity)) continue;
    const e = JSON.parse(line);
    const t = new Date(e.requestReceivedTimestamp);
    if (t >= from && t <= to && String(e.userAgent).includes(identity)) {
      byVerb[e.verb] = (byVerb[e.verb] ?? 0) + 1;
      // A status patch by the Jobs' writer is told apart by its field manager.
      const jobs = /fieldManager=homeops-operator-jobs/.test(e.requestURI) ? ' (jobs writer)' : '';
      const r = e.objectRef
        ? `${e.verb} ${e.objectRef.resource}${e.objectRef.subresource ? `/${e.objectRef.subresource}` : ''}${jobs}`
        : `${e.verb} ${e.requestURI}`;
      byResource[r] = (byResource[r] ?? 0) + 1;
    }
  }
  return Object.assign(byVerb, { [BY_RESOURCE]: byResource }) as Record<string, number>;
}
const BY_RESOURCE = Symbol('by resource');
const byResource = (o: Record<string, number>, n: number) =>
  Object.entries((o as unknown as Record<symbol, Record<string, number>>)[BY_RESOURCE] ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / n).toFixed(2)}`)
    .join(', ');
/** The status fields that changed between two versions of an object, as dotted paths. */
function changedPaths(a: unknown, b: unknown, at = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  if (Array.isArray(a) && Array.isArray(b) && at.endsWith('conditions')) {
    // Conditions by type.
    const byType = (xs: { type: string }[]) => new Map(xs.map((c) => [c.type, c]));
    const [ma, mb] = [byType(a), byType(b)];
    return [...new Set([...ma.keys(), ...mb.keys()])].flatMap((t) =>
      changedPaths(ma.get(t), mb.get(t), `${at}[${t}]`),
    );
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      changedPaths(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        at ? `${at}.${k}` : k,
      ),
    );
  }
  return [at];
}
const sum = (o: Record<string, number>, only?: (k: string) => boolean) =>
  Object.entries(o).reduce((a, [k, v]) => a + (only && !only(k) ? 0 : v), 0);

const noise: string[] = [];
for (let i = 0; i < NOISE; i++) {
  const ns = `bench-noise-${randomBytes(3).toString('hex')}`;
  await client.create(Resources.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  noise.push(ns);
  const items = Array.from({ length: 100 }, (_, j) => j);
  await inBatches(items, 50, (j) =>
    Promise.all([
      client.create(Resources.Secret, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `noise-${j}`, namespace: ns },
        stringData: { password: randomBytes(16).toString('hex'), note: 'x'.repeat(512) },
      }),
      client.create(Resources.ConfigMap, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `noise-${j}`, namespace: ns },
        data: { 'config.yaml': 'y'.repeat(1024) },
      }),
    ]),
  );
}
if (NOISE) console.log(`noise: ${NOISE} namespaces with 100 Secrets and 100 ConfigMaps each`);

for (const N of sizes) {
  const ns = `bench-hodb-${randomBytes(3).toString('hex')}`;
  await client.create(Resources.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const names = Array.from({ length: N }, (_, i) => `db-${i}`);
  const creds: [string, string, string][] = [
    ['superuser', 'postgres', env.HOMEOPS_PG_SUPERUSER_PASSWORD!],
    ['app', 'homeops', env.HOMEOPS_PG_APP_PASSWORD!],
    ['replication', 'replicator', env.HOMEOPS_PG_REPLICATION_PASSWORD!],
    ['pooler-auth', 'pgbouncer_auth', env.HOMEOPS_PGBOUNCER_AUTH_PASSWORD!],
  ];
  await inBatches(
    names.flatMap((n) => creds.map((c) => [n, ...c] as const)),
    40,
    ([n, role, user, password]) =>
      client.create(Resources.Secret, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: `${n}-${role}`,
          namespace: ns,
          // Labelled as the operator labels its own, so it uses them with no request (the
          // README's bring-your-own path); unlabelled, each costs a read and an adoption patch.
          ...(UNLABELLED_SECRETS ? {} : { labels: dbLabels({ metadata: { name: n } } as never, 'secret') }),
        },
        stringData: { username: user, password },
      }),
  );
  const mapFile = `/tmp/${ns}-endpoints.json`;
  writeFileSync(
    mapFile,
    JSON.stringify({
      [`*-rw.${ns}.svc:5432`]: `127.0.0.1:${env.HOMEOPS_PG_PORT}`,
      [`*-pooler.${ns}.svc:5432`]: `127.0.0.1:${env.HOMEOPS_PGBOUNCER_PORT}`,
    }),
  );
  const identity = `bench-${ns}`;
  const heapDir = mkdtempSync(join(tmpdir(), 'homeops-heap-'));
  const throttled = THROTTLE ? await throttle(THROTTLE, kubeconfig, ns) : undefined;
  const proc = await startOperator({
    kubeconfig: throttled?.kubeconfig ?? kubeconfig,
    namespace: NOISE ? undefined : ns,
    port: 18090,
    args: [
      `--identity=${identity}`,
      `--endpoint-map=${mapFile}`,
      ...(throttled?.args ?? []),
      // More operator flags, such as --controller-concurrency=homeopsdatabase=32.
      ...(process.env.HOMEOPS_BENCH_ARGS ?? '').split(' ').filter(Boolean),
    ],
    heapDir,
    ...(MAX_OLD_SPACE ? { maxOldSpaceMiB: MAX_OLD_SPACE } : {}),
  });

  const childrenAt = new Map<string, number>();
  const podReadyAt = new Map<string, number>();
  const readyAt = new Map<string, number>();
  /** When the database's migration Job had finished (MigrationsApplied no longer Unknown). */
  const migratedAt = new Map<string, number>();
  // Watched, not polled: the benchmark's own reads must not load the API server it measures.
  const watch = <T extends KubeObject>(type: ResourceType, seen: (o: T, now: number) => void) => {
    const inf = new Informer<T>(kc, client, type, quiet, { namespaces: [ns] });
    inf.on((event, o) => event !== 'delete' && seen(o, performance.now()));
    return inf;
  };
  const hasSts = new Set<string>();
  const hasDep = new Set<string>();
  const childrenSeen = (n: string, now: number) => {
    if (!childrenAt.has(n) && hasSts.has(n) && hasDep.has(`${n}-pooler`)) childrenAt.set(n, now);
  };
  let allReady!: () => void;
  const done = new Promise<void>((r) => {
    allReady = r;
  });
  const convergeMoved: Record<string, number> = {};
  let traced: unknown;
  const convergeStatus = new Map<string, unknown>();
  const informers = [
    watch<KubeObject & { status?: { readyReplicas?: number } }>(Resources.StatefulSet, (o, now) => {
      const n = o.metadata.name!;
      hasSts.add(n);
      childrenSeen(n, now);
      if (!podReadyAt.has(n) && (o.status?.readyReplicas ?? 0) >= 1) podReadyAt.set(n, now);
    }),
    watch(Resources.Deployment, (o, now) => {
      hasDep.add(o.metadata.name!);
      childrenSeen(o.metadata.name!.replace(/-pooler$/, ''), now);
    }),
    watch<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
      Resources.HomeOpsDatabase,
      (o, now) => {
        const n = o.metadata.name!;
        if (n === TRACE)
          console.log(
            `  trace ${n} +${((now - (created.get(n) ?? now)) / 1000).toFixed(1)} s: ${changedPaths(traced, o.status, 'status').join(' ')} | ${(
              o.status?.conditions ?? []
            )
              .map(
                (c) => `${c.type}=${c.status}${'reason' in c ? `/${(c as { reason?: string }).reason}` : ''}`,
              )
              .join(' ')}`,
          );
        if (n === TRACE) traced = o.status;
        // Which status fields each write moved on the way to Ready (top-level, conditions by type
        // and reason): what the status writes per database are made of.
        if (!readyAt.has(n))
          for (const p of new Set(
            changedPaths(convergeStatus.get(n), o.status, 'status').map((x) =>
              x.replace(/^(status\.[a-zA-Z]+(\[[A-Za-z]+\])?).*/, '$1'),
            ),
          ))
            convergeMoved[p] = (convergeMoved[p] ?? 0) + 1;
        convergeStatus.set(n, o.status);
        if (!readyAt.has(n) && o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          readyAt.set(n, now);
        if (
          !migratedAt.has(n) &&
          o.status?.conditions?.some((c) => c.type === 'MigrationsApplied' && c.status !== 'Unknown')
        )
          migratedAt.set(n, now);
        if (readyAt.size === N && migratedAt.size === N) allReady();
      },
    ),
  ];
  await Promise.all(informers.map((i) => i.start()));
  const since = new Date();
  const t0 = performance.now();
  const created = new Map<string, number>();
  const progress = setInterval(
    () =>
      console.error(
        `  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${created.size} created, ${childrenAt.size} with children, ${podReadyAt.size} pods Ready, ${readyAt.size} Ready, ${migratedAt.size} migrated`,
      ),
    10_000,
  );
  await inBatches(names, 20, async (n) => {
    const at = performance.now();
    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: n, namespace: ns },
      spec: onKwok(),
    });
    created.set(n, at);
  });
  await done;
  clearInterval(progress);
  await Promise.all(informers.map((i) => i.stop()));
  const convergedAt = new Date();
  const toChildren = names.map((n) => (childrenAt.get(n)! - created.get(n)!) / 1000);
  const toReady = names.map((n) => (readyAt.get(n)! - created.get(n)!) / 1000);
  const toPod = names.map((n) => ((podReadyAt.get(n) ?? readyAt.get(n)!) - created.get(n)!) / 1000);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]) / 1024;
  const lastReady = Math.max(...readyAt.values());
  // Requests until the last database was Ready (the issue's measure), and until every migration
  // Job had finished too (the Jobs controller's part comes on top).
  const converge = requests(identity, since, new Date(Date.now() - (performance.now() - lastReady)));
  const convergeWithJobs = requests(identity, since, convergedAt);
  // Idle: after the figures have settled. Status shows the median response time of the last
  // five probes (30 s apart): the probes made while 1,000 databases were being set up leave it
  // only after five intervals. What moves meanwhile is printed too.
  const moved: Record<string, number> = {};
  const settleMoved: Record<string, number> = {};
  let counting = settleMoved;
  const lastStatus = new Map<string, unknown>();
  const idleWatch = new Informer<KubeObject & { status?: unknown }>(
    kc,
    client,
    Resources.HomeOpsDatabase,
    quiet,
    { namespaces: [ns] },
  );
  let watching = false;
  idleWatch.on((event, o) => {
    const key = o.metadata.name!;
    if (event !== 'delete' && watching)
      for (const p of changedPaths(lastStatus.get(key), o.status, 'status'))
        counting[p] = (counting[p] ?? 0) + 1;
    lastStatus.set(key, o.status);
  });
  await idleWatch.start();
  watching = true;
  await sleep(SETTLE_S * 1000);
  counting = moved;
  const idleFrom = new Date();
  await sleep(IDLE_S * 1000);
  await idleWatch.stop();
  const idle = requests(identity, idleFrom, new Date());
  const isWrite = (v: string) => ['create', 'update', 'patch', 'delete'].includes(v);
  console.log(`\n${N} database(s)`);
  console.log(
    `  apply -> children applied   median ${pct(toChildren, 50).toFixed(2)} s, p95 ${pct(toChildren, 95).toFixed(2)} s`,
  );
  console.log(
    `  apply -> primary pod Ready   median ${pct(toPod, 50).toFixed(2)} s, p95 ${pct(toPod, 95).toFixed(2)} s (kwok's simulated start)`,
  );
  console.log(
    `  apply -> Ready               median ${pct(toReady, 50).toFixed(2)} s, p95 ${pct(toReady, 95).toFixed(2)} s`,
  );
  console.log(`  operator RSS                 ${rss.toFixed(0)} MiB`);
  console.log(
    `  API requests to converge     ${(sum(converge) / N).toFixed(1)} per database ${JSON.stringify(converge)}`,
  );
  console.log(`    per database: ${byResource(converge, N)}`);
  console.log(
    `    status updates until Ready moved, per database: ${Object.entries(convergeMoved)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(v / N).toFixed(2)}`)
      .join(', ')}`,
  );
  const toMigrated = names.map((n) => (migratedAt.get(n)! - created.get(n)!) / 1000);
  console.log(
    `  apply -> migrations done      median ${pct(toMigrated, 50).toFixed(2)} s, p95 ${pct(toMigrated, 95).toFixed(2)} s (the migration Job, on kwok: no real run)`,
  );
  console.log(
    `  API requests, with the Jobs   ${(sum(convergeWithJobs) / N).toFixed(1)} per database: ${byResource(convergeWithJobs, N)}`,
  );
  console.log(
    `  API requests, ${IDLE_S} s idle     ${sum(idle, isWrite)} writes, ${sum(idle)} in all ${JSON.stringify(idle)}`,
  );
  if (sum(idle)) console.log(`    by resource: ${byResource(idle, 1)}`);
  const list = (o: Record<string, number>) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} x${v}`)
      .join(', ') || 'none';
  console.log(`    status fields that moved in the idle window: ${list(moved)}`);
  console.log(`    ... and in the ${SETTLE_S} s before it: ${list(settleMoved)}`);
  const metrics = await fetch('http://127.0.0.1:18090/metrics').then((r) => r.text());
  const metric = (name: string) =>
    metrics
      .split('\n')
      .filter((l) => l.startsWith(name) && l.includes('homeopsdatabase'))
      .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  const reconciles = metric('controller_runtime_reconcile_total{');
  const busy = metric('controller_runtime_reconcile_time_seconds_sum');
  console.log(
    `  reconciles                   ${reconciles} (${(reconciles / N).toFixed(1)} per database), ${busy.toFixed(1)} s in reconcile, ${((busy / reconciles) * 1000).toFixed(0)} ms each`,
  );
  const hist = (name: string, label = '') => {
    const sumOf = (suffix: string) =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith(`${name}_${suffix}`) && l.includes(label))
        .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    const count = sumOf('count');
    return `${count} x ${count ? ((sumOf('sum') / count) * 1000).toFixed(0) : '-'} ms`;
  };
  console.log(
    `  API latency (mean)           GET ${hist('rest_client_request_duration_seconds', 'GET')}, PATCH ${hist('rest_client_request_duration_seconds', 'PATCH')}, POST ${hist('rest_client_request_duration_seconds', 'POST')}`,
  );
  console.log(`  probes (mean)                ${hist('homeops_probe_duration_seconds')}`);
  const gauge = (name: string) =>
    Number(
      metrics
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(' ')
        .pop() ?? Number.NaN,
    );
  console.log(
    `  JS heap                      ${(gauge('nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(0)} MiB used of ${(gauge('nodejs_heap_size_total_bytes') / 2 ** 20).toFixed(0)} MiB`,
  );
  // Committed per V8 space: what the heap holds of the RSS.
  const spaces = metrics
    .split('\n')
    .filter((l) => l.startsWith('nodejs_heap_space_size_total_bytes{'))
    .map((l) => [/space="([^"]+)"/.exec(l)?.[1], Number(l.split(' ').pop())] as const)
    .filter(([, v]) => v > 2 ** 20)
    .map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(0)}`);
  console.log(`    committed by space (MiB): ${spaces.join(', ')}`);
  if (throttled) for (const line of await throttled.report(18090)) console.log(`  throttled: ${line}`);
  // A heap snapshot (V8 collects garbage first): what is live, by constructor.
  proc.kill('SIGUSR2');
  let snap: string | undefined;
  for (let i = 0; i < 600 && !snap; i++) {
    await sleep(500);
    const f = readdirSync(heapDir).find((x) => x.endsWith('.heapsnapshot'));
    // Written in one go: done when its size stops moving.
    if (f && statSync(join(heapDir, f)).size > 0) {
      const a = statSync(join(heapDir, f)).size;
      await sleep(1000);
      if (statSync(join(heapDir, f)).size === a) snap = join(heapDir, f);
    }
  }
  if (snap) {
    printSummary(snap, 12);
    // Kept for a closer look (node bench/heap.ts FILE).
    copyFileSync(snap, join(kubeconfig, '..', '..', `bench-${N}.heapsnapshot`));
  }
  rmSync(heapDir, { recursive: true, force: true });
  // Deleted while the operator runs, so its finalizers come off; then it stops.
  await client.delete(Resources.Namespace, undefined, ns);
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline && (await client.list(Resources.HomeOpsDatabase, ns)).items.length)
    await sleep(2000);
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  await throttled?.close();
}
for (const ns of noise) await client.delete(Resources.Namespace, undefined, ns);
