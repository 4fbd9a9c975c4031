/** Starts the operator (`src/main.ts run`) as its own process for a benchmark, and waits for /readyz. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export async function startOperator(opts: {
  kubeconfig: string;
  namespace: string;
  /** /metrics on this port, /healthz and /readyz on the next. */
  port: number;
  args?: string[];
  stdout?: 'ignore' | 'inherit';
}): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [
      join(import.meta.dirname, '..', 'src/main.ts'),
      'run',
      `--kubeconfig=${opts.kubeconfig}`,
      `--namespaces=${opts.namespace}`,
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
