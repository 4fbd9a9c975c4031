/**
 * Global setup of the integration project: brings the local control plane and data plane up
 * (hack/cluster.sh, hack/dataplane.sh; both are idempotent and fast when already running) and
 * hands their coordinates to the test files. It stops at the end only what it started itself,
 * unless HOMEOPS_KEEP_STACK=1.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

const repo = join(import.meta.dirname, '..', '..');

function hack(script: string, command: string, quiet = false): string {
  return execFileSync('bash', [join(repo, 'hack', script), command], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', quiet ? 'ignore' : 'inherit'],
    timeout: 30 * 60_000,
  }).trim();
}

/** KEY=VALUE lines (the data plane's env file) into an object. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function isUp(script: string): boolean {
  try {
    hack(script, 'env', true);
    return true;
  } catch {
    return false;
  }
}

export default function setup(project: TestProject) {
  // Installs PostgreSQL, PgBouncer and Redis from Debian packages when they are missing.
  hack('dataplane.sh', 'install');
  const started: string[] = [];
  for (const script of ['cluster.sh', 'dataplane.sh']) {
    if (!isUp(script)) started.push(script);
  }
  const kubeconfig = hack('cluster.sh', 'up').split('\n').pop()!;
  const dataplaneEnvFile = hack('dataplane.sh', 'up').split('\n').pop()!;
  if (!existsSync(kubeconfig) || !existsSync(dataplaneEnvFile)) {
    throw new Error(
      `the local stack did not come up (kubeconfig ${kubeconfig}, data plane env ${dataplaneEnvFile})`,
    );
  }
  const clusterEnv = parseEnvFile(hack('cluster.sh', 'env').replaceAll('export ', ''));
  project.provide('kubeconfig', kubeconfig);
  project.provide('kubectlPath', clusterEnv.PATH!.split(':')[0]!);
  project.provide('auditLog', clusterEnv.HOMEOPS_APISERVER_AUDIT_LOG!);
  project.provide('dataplane', parseEnvFile(readFileSync(dataplaneEnvFile, 'utf8')));

  return () => {
    if (process.env.HOMEOPS_KEEP_STACK === '1') return;
    for (const script of started.reverse()) hack(script, 'down');
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectlPath: string;
    auditLog: string;
    dataplane: Record<string, string>;
  }
}
