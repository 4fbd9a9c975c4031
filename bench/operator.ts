/**
 * Starts the operator as its own process for a benchmark, and waits for /readyz. It runs what
 * the image runs: `dist/main.js`, built here first (`npm run build`), not the TypeScript
 * sources through Node's type stripping (which costs about 30 MiB more). SIGUSR2 makes it write
 * a heap snapshot into `heapDir` (see heap.ts).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { OPERATOR_NODE_FLAGS } from '../src/images.ts';

const repo = join(import.meta.dirname, '..');
let built = false;

export async function startOperator(opts: {
  kubeconfig: string;
  /** The one namespace to watch; every namespace when undefined. */
  namespace: string | undefined;
  /** /metrics on this port, /healthz and /readyz on the next. */
  port: number;
  args?: string[];
  stdout?: 'ignore' | 'inherit';
  /** Node's --max-old-space-size, in MiB, as a container memory limit would set it. */
  maxOldSpaceMiB?: number;
  heapDir?: string;
}): Promise<ChildProcess> {
  // Another operator still answering on the port (an earlier run's, not yet stopped) would be
  // taken for this one.
  if (
    await fetch(`http://127.0.0.1:${opts.port + 1}/readyz`)
      .then(() => true)
      .catch(() => false)
  )
    throw new Error(`port ${opts.port + 1} answers already: stop the operator that holds it`);
  if (!built) {
    execFileSync('npm', ['run', 'build'], { cwd: repo, stdio: 'ignore' });
    built = true;
  }
  const proc = spawn(
    process.execPath,
    [
      // As the image runs it.
      ...OPERATOR_NODE_FLAGS,
      ...(opts.maxOldSpaceMiB ? [`--max-old-space-size=${opts.maxOldSpaceMiB}`] : []),
      // More V8 flags for the operator, such as --max-semi-space-size=4 (HOMEOPS_BENCH_NODE_ARGS).
      ...(process.env.HOMEOPS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      // A CPU profile of the whole run, written on exit (HOMEOPS_BENCH_CPU_PROFILE=DIR).
      ...(process.env.HOMEOPS_BENCH_CPU_PROFILE
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.HOMEOPS_BENCH_CPU_PROFILE}`]
        : []),
      ...(opts.heapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts.heapDir}`] : []),
      join(repo, 'dist/main.js'),
      'run',
      `--kubeconfig=${opts.kubeconfig}`,
      ...(opts.namespace ? [`--namespaces=${opts.namespace}`] : []),
      '--leader-elect=false',
      `--metrics-port=${opts.port}`,
      `--health-port=${opts.port + 1}`,
      '--bind-address=127.0.0.1',
      '--log-level=warn',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', opts.stdout ?? 'ignore', 'inherit'] },
  );
  // Measured from a synced operator: its start is not part of any figure.
  while (
    !(await fetch(`http://127.0.0.1:${opts.port + 1}/readyz`)
      .then((r) => r.ok)
      .catch(() => false))
  ) {
    if (proc.exitCode !== null) throw new Error(`the operator exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

/**
 * A benchmark's cluster: the local stack up (real node included), the CRDs installed, a client,
 * and a namespace of its own named `prefix-xxxxxx`.
 */
export async function benchCluster(prefix: string) {
  const { randomBytes } = await import('node:crypto');
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeClient } = await import('../src/runtime/client.ts');
  const { Resources } = await import('../src/runtime/types.ts');
  const sh = (cmd: string) => execFileSync('bash', ['-c', cmd], { encoding: 'utf8', cwd: repo }).trim();
  const kubeconfig = sh('bash hack/cluster.sh up 2>/dev/null | tail -n1');
  sh(
    'eval "$(bash hack/cluster.sh env)"; kubectl apply --server-side --force-conflicts -f crds >/dev/null; kubectl wait --for=condition=Established crd --all >/dev/null',
  );
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const client = new KubeClient(kc, { userAgent: 'homeops-bench' });
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.create(Resources.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  return { sh, kubeconfig, client, ns };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/** Polls `fn` every 100 ms until it gives a value (errors count as not yet); throws after timeoutMs. */
export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}
