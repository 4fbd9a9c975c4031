/**
 * Global setup of the live projects: the tests run on a local stack of their own, started clean
 * (hack/cluster.sh, hack/dataplane.sh), and hand its coordinates to the test files.
 *
 * - By default a stack left up by someone else (`npm run demo -- --once`, an earlier run killed
 *   half-way) is taken down first and started anew, so nothing an earlier run left (namespaces
 *   stuck Terminating, the demo's pods and operator-less objects) reaches a test; the stack the
 *   tests started is stopped at the end.
 * - With HOMEOPS_KEEP_STACK=1 (the dev loop: one file at a time) a running stack is reused and
 *   left up; test namespaces an earlier run left Terminating are released first.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { stringify } from 'yaml';
import { WATCH_RULES } from '../../src/deploy/rbac.ts';
import { releaseLeftoverNamespaces } from '../support/namespaces.ts';

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

/** The ServiceAccount every test's operator runs as, bound to the chart's rules and nothing else. */
export const OPERATOR_NAMESPACE = 'homeops-tests';
export const OPERATOR_ACCOUNT = 'homeops-operator';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_ACCOUNT}`;

/**
 * Binds the chart's cluster-wide rules (src/deploy/rbac.ts) to a ServiceAccount and writes a
 * kubeconfig with a token of it: the tests' operators use it, so a verb a controller needs and
 * the role lacks fails the test that needs it, and the `rbac` project lists every refusal.
 */
function operatorKubeconfig(kubectl: string, adminKubeconfig: string): string {
  const k = (args: string[], input?: string) =>
    execFileSync(kubectl, ['--kubeconfig', adminKubeconfig, ...args], {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'inherit'],
    }).trim();
  const name = 'homeops-operator-tests';
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name },
      rules: WATCH_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE }],
    },
  ];
  k(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objects.map((o) => stringify(o)).join('---\n'),
  );
  const token = k(['create', 'token', OPERATOR_ACCOUNT, '-n', OPERATOR_NAMESPACE, '--duration', '24h']);
  const admin = JSON.parse(k(['config', 'view', '--raw', '-o', 'json']));
  const cluster = admin.clusters[0];
  const file = join(dirname(adminKubeconfig), 'operator-tests.kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [cluster],
      users: [{ name: OPERATOR_ACCOUNT, user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: cluster.name, user: OPERATOR_ACCOUNT } }],
      'current-context': 'operator',
    }),
    { mode: 0o600 },
  );
  return file;
}

/** When this run of the tests began: the `rbac` project reads the audit log from here on. */
const runStarted = new Date().toISOString();

export default async function setup(project: TestProject) {
  // Installs PostgreSQL, PgBouncer and Redis from Debian packages when they are missing.
  hack('dataplane.sh', 'install');
  const keep = process.env.HOMEOPS_KEEP_STACK === '1';
  // Every live project runs this setup, in one process: only the first of a run starts clean;
  // the others use the stack it started (their coordinates must be the same stack's).
  const first = process.env.HOMEOPS_TEST_STACK !== 'started';
  process.env.HOMEOPS_TEST_STACK = 'started';
  const started: string[] = [];
  for (const script of ['dataplane.sh', 'cluster.sh']) {
    if (!isUp(script)) started.push(script);
    else if (!keep && first) {
      console.error(
        `[global setup] ${script}: a stack is up (the demo's?); the tests start from a clean one`,
      );
      hack(script, 'down');
      started.push(script);
    }
  }
  const kubeconfig = hack('cluster.sh', 'up').split('\n').pop()!;
  const dataplaneEnvFile = hack('dataplane.sh', 'up').split('\n').pop()!;
  if (!existsSync(kubeconfig) || !existsSync(dataplaneEnvFile)) {
    throw new Error(
      `the local stack did not come up (kubeconfig ${kubeconfig}, data plane env ${dataplaneEnvFile})`,
    );
  }
  const clusterEnv = parseEnvFile(hack('cluster.sh', 'env').replaceAll('export ', ''));
  if (keep) {
    const admin = new KubeConfig();
    admin.loadFromFile(kubeconfig);
    const released = await releaseLeftoverNamespaces(admin);
    if (released.length)
      console.error(`[global setup] released namespaces left Terminating: ${released.join(', ')}`);
  }
  project.provide('kubeconfig', kubeconfig);
  project.provide('kubectlPath', clusterEnv.PATH!.split(':')[0]!);
  project.provide('auditLog', clusterEnv.HOMEOPS_APISERVER_AUDIT_LOG!);
  project.provide(
    'operatorKubeconfig',
    operatorKubeconfig(join(clusterEnv.PATH!.split(':')[0]!, 'kubectl'), kubeconfig),
  );
  project.provide('runStarted', runStarted);
  project.provide('dataplane', parseEnvFile(readFileSync(dataplaneEnvFile, 'utf8')));

  return () => {
    if (keep) return;
    for (const script of ['dataplane.sh', 'cluster.sh'].filter((x) => started.includes(x)))
      hack(script, 'down');
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectlPath: string;
    auditLog: string;
    /** A kubeconfig of the operator's ServiceAccount, bound to the chart's rules only. */
    operatorKubeconfig: string;
    runStarted: string;
    dataplane: Record<string, string>;
  }
}
