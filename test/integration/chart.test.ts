/**
 * The chart's output accepted by the real API server: `helm template` piped to a server-side dry
 * run (admission, schema validation of every object, RBAC escalation checks of the roles), in
 * both RBAC modes. ServiceMonitor and PrometheusRule need the Prometheus Operator's CRDs, which
 * this cluster does not have: promtool checks the rules (test/unit/alerts.test.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { KUBE_VERSION } from '../../src/cmd/gen-chart.ts';
import { CHART, helm } from '../support/chart.ts';

const run = promisify(execFile);

async function dryRun(set: string[]): Promise<string> {
  const { stdout: rendered } = await run(
    helm(),
    [
      'template',
      'homeops-operator',
      CHART,
      '-n',
      'default',
      '--kube-version',
      KUBE_VERSION,
      ...set.flatMap((s) => ['--set', s]),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const kubectl = `${inject('kubectlPath')}/kubectl`;
  const child = execFile(
    kubectl,
    [
      '--kubeconfig',
      inject('kubeconfig'),
      'apply',
      '--server-side',
      '--dry-run=server',
      '--force-conflicts',
      '-f',
      '-',
    ],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  child.stdin!.end(rendered);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`server-side dry run refused the chart:\n${err}`);
  return out;
}

describe('the chart on the API server (server-side dry run)', () => {
  it('is accepted cluster-wide, with the Grafana dashboard', async () => {
    const out = await dryRun(['grafanaDashboard.enabled=true']);
    for (const kind of [
      'customresourcedefinition.apiextensions.k8s.io/homeopsdatabases.homeops.io',
      'clusterrole.rbac.authorization.k8s.io/homeops-operator',
      'deployment.apps/homeops-operator',
      'poddisruptionbudget.policy/homeops-operator',
      'configmap/homeops-operator-dashboard',
    ])
      expect(out).toContain(`${kind} serverside-applied (server dry run)`);
  });

  it('is accepted with watchNamespaces, Roles only', async () => {
    const out = await dryRun(['watchNamespaces={default,kube-public}']);
    expect(out).toContain(
      'role.rbac.authorization.k8s.io/homeops-operator serverside-applied (server dry run)',
    );
    expect(out).not.toContain('clusterrole');
  });
});
