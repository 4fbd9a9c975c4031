/**
 * The chart's output accepted by the real API server: `helm template` piped to a server-side dry
 * run (admission, schema validation of every object, RBAC escalation checks of the roles), in
 * both RBAC modes; the ServiceMonitor and PrometheusRule against the Prometheus Operator's own
 * CRDs (from its Go module, pinned in hack/lib.sh). promtool checks the rules themselves
 * (test/unit/alerts.test.ts).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { KUBE_VERSION, toolDir } from '../../src/cmd/gen-chart.ts';
import { CHART, helm } from '../support/chart.ts';

const run = promisify(execFile);

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = execFile(
    `${inject('kubectlPath')}/kubectl`,
    ['--kubeconfig', inject('kubeconfig'), ...args],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  child.stdin!.end(input ?? '');
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`kubectl ${args[0]} failed:\n${err}`);
  return out;
}

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
  return kubectl(
    ['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'],
    rendered,
  ).catch((e) => {
    throw new Error(`server-side dry run refused the chart: ${(e as Error).message}`);
  });
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

  it("has a ServiceMonitor and a PrometheusRule the Prometheus Operator's CRDs accept", async () => {
    const dir = toolDir('promcrds');
    for (const crd of ['servicemonitors', 'prometheusrules'])
      await kubectl([
        'apply',
        '--server-side',
        '--force-conflicts',
        '-f',
        join(dir, `monitoring.coreos.com_${crd}.yaml`),
      ]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
    const applied = await dryRun([
      'serviceMonitor.enabled=true',
      'serviceMonitor.additionalLabels.release=kube-prometheus-stack',
      'prometheusRule.enabled=true',
      'prometheusRule.disabled={HomeOpsSlowQueries}',
    ]);
    expect(applied).toContain(
      'servicemonitor.monitoring.coreos.com/homeops-operator serverside-applied (server dry run)',
    );
    expect(applied).toContain(
      'prometheusrule.monitoring.coreos.com/homeops-operator serverside-applied (server dry run)',
    );
  });

  it('is accepted with watchNamespaces, Roles only', async () => {
    const out = await dryRun(['watchNamespaces={default,kube-public}']);
    expect(out).toContain(
      'role.rbac.authorization.k8s.io/homeops-operator serverside-applied (server dry run)',
    );
    expect(out).not.toContain('clusterrole');
  });
});
