/**
 * The chart as Helm renders it (the pinned Helm from hack/build-tools.sh): generated files fresh,
 * values and schema in agreement, RBAC in both modes from src/deploy/rbac.ts, CRDs kept, alerts
 * and dashboard reading only series the operator exports.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generatedFiles, staleFiles } from '../../src/cmd/gen-chart.ts';
import { ALERTS, DEFAULT_THRESHOLDS, ruleGroups } from '../../src/deploy/alerts.ts';
import { dashboardExprs } from '../../src/deploy/dashboard.ts';
import { LEADER_RULES, WATCH_RULES } from '../../src/deploy/rbac.ts';
import { chartValues } from '../../src/deploy/values.ts';
import { CHART, exportedSeries, helm, renderChart, seriesIn } from '../support/chart.ts';

const kinds = (docs: ReturnType<typeof renderChart>) => docs.map((d) => `${d.kind}/${d.metadata.name}`);

/** The parts of the rendered objects these tests read. */
interface Container {
  args: string[];
  env: { name: string }[];
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  securityContext: Record<string, unknown>;
}
interface Deployment {
  spec: {
    replicas: number;
    strategy: { rollingUpdate: unknown };
    template: { spec: { securityContext: { runAsNonRoot: boolean }; containers: Container[] } };
  };
}
interface Role {
  metadata: { namespace?: string };
  rules: unknown[];
}
interface Groups {
  spec: { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
}
const one = <T>(docs: ReturnType<typeof renderChart>, kind: string) =>
  docs.find((d) => d.kind === kind) as unknown as T;
const all = <T>(docs: ReturnType<typeof renderChart>, kind: string) =>
  docs.filter((d) => d.kind === kind) as unknown as T[];

describe('the chart', () => {
  it('has its generated files and manifests/install up to date (npm run gen:chart)', () => {
    expect(staleFiles(generatedFiles(helm()))).toEqual([]);
  });

  it("parses its values.yaml with the values' schema, and the schema refuses unknown keys", () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect(chartValues.safeParse(values).error?.issues ?? []).toEqual([]);
    expect(values.prometheusRule.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect(() => renderChart(['replicaCount=two'])).toThrow(/replicaCount/);
    expect(() => renderChart(['operator.bogus=1'])).toThrow(/bogus/);
  });

  it('passes helm lint', () => {
    const out = execFileSync(helm(), ['lint', CHART, '--strict', '--kube-version', 'v1.35.4'], {
      encoding: 'utf8',
    });
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('runs two replicas with leader election, hardened, with probes on /healthz and /readyz', () => {
    const dep = one<Deployment>(renderChart(), 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.args).toContain('--leader-elect=true');
    expect(c.args).toContain('--leader-election-id=homeops-operator-leader');
    expect(c.args).toContain('--operator-image=ghcr.io/homeops/homeops-operator:0.1.0');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.env.map((e: { name: string }) => e.name)).toEqual([
      'HOMEOPS_IDENTITY',
      'HOMEOPS_LEADER_ELECTION_NAMESPACE',
    ]);
    const pdb = one<{ spec: { minAvailable: number } }>(renderChart(), 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(renderChart(['replicaCount=1']).some((d) => d.kind === 'PodDisruptionBudget')).toBe(false);
  });

  it('grants the generated rules cluster-wide by default, and only in the watched namespaces with watchNamespaces', () => {
    const cluster = renderChart();
    const role = one<Role>(cluster, 'ClusterRole');
    expect(role.rules).toEqual(WATCH_RULES);
    const leader = one<Role>(cluster, 'Role');
    expect(leader.metadata.namespace).toBe('homeops-system');
    expect(leader.rules).toEqual(LEADER_RULES);

    const scoped = renderChart(['watchNamespaces={shop,lab}']);
    expect(kinds(scoped).filter((k) => k.startsWith('Cluster'))).toEqual([]);
    const roles = all<Role>(scoped, 'Role');
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['homeops-system', 'lab', 'shop']);
    for (const r of roles.filter((x) => x.metadata.namespace !== 'homeops-system'))
      expect(r.rules).toEqual(WATCH_RULES);
    const bindings = all<Role>(scoped, 'RoleBinding');
    expect(bindings).toHaveLength(3);
    const dep = one<Deployment>(scoped, 'Deployment');
    expect(dep.spec.template.spec.containers[0]!.args).toContain('--namespaces=shop,lab');
  });

  it('templates the CRDs with helm.sh/resource-policy: keep, behind crds.install', () => {
    const crds = renderChart().filter((d) => d.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'cachetiers.homeops.io',
      'homeopsdatabases.homeops.io',
      'replicasets.homeops.io',
    ]);
    for (const c of crds) expect(c.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    const fromRepo = parse(
      readFileSync(join(CHART, '..', '..', 'crds', 'homeops.io_homeopsdatabases.yaml'), 'utf8'),
    );
    const templated = crds.find((c) => c.metadata.name === 'homeopsdatabases.homeops.io') as unknown as {
      spec: unknown;
    };
    expect(templated.spec).toEqual(fromRepo.spec);
    expect(
      renderChart(['crds.keep=false'])
        .filter((d) => d.kind === 'CustomResourceDefinition')
        .every((c) => !c.metadata.annotations?.['helm.sh/resource-policy']),
    ).toBe(true);
    expect(renderChart(['crds.install=false']).some((d) => d.kind === 'CustomResourceDefinition')).toBe(
      false,
    );
  });

  it('renders the optional objects with their additionalLabels only when enabled', () => {
    expect(kinds(renderChart()).filter((k) => /ServiceMonitor|PrometheusRule|ConfigMap/.test(k))).toEqual([]);
    const everything = renderChart([
      'serviceMonitor.enabled=true',
      'serviceMonitor.additionalLabels.release=kube-prometheus-stack',
      'prometheusRule.enabled=true',
      'prometheusRule.additionalLabels.release=kube-prometheus-stack',
      'grafanaDashboard.enabled=true',
      'grafanaDashboard.additionalLabels.team=data',
    ]);
    const sm = everything.find((d) => d.kind === 'ServiceMonitor')!;
    expect(sm.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(everything.find((d) => d.kind === 'PrometheusRule')!.metadata.labels?.release).toBe(
      'kube-prometheus-stack',
    );
    const cm = one<{ metadata: { labels: Record<string, string> }; data: Record<string, string> }>(
      everything,
      'ConfigMap',
    );
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1', team: 'data' });
    const board = JSON.parse(cm.data['homeops-operator.json']!);
    expect(
      board.panels.filter((p: { type: string }) => p.type === 'row').map((p: { title: string }) => p.title),
    ).toEqual(['Databases', 'Pooler', 'Replicas', 'Cache', 'Benchmarks', 'Operator']);
  });

  it('renders the same PrometheusRule as the plain rules; alerts can be left out and thresholds changed', () => {
    const rule = (set: string[]) =>
      one<Groups>(renderChart(['prometheusRule.enabled=true', ...set]), 'PrometheusRule');
    expect(rule([]).spec.groups).toEqual(ruleGroups());
    const off = rule(['prometheusRule.disabled={HomeOpsCacheDown,HomeOpsSlowQueries}']).spec.groups;
    const names = off.flatMap((g: { rules: { alert: string }[] }) => g.rules.map((r) => r.alert));
    expect(names).not.toContain('HomeOpsCacheDown');
    expect(names).not.toContain('HomeOpsSlowQueries');
    expect(names).toHaveLength(ALERTS.length - 2);
    // A whole group left out stays a valid (empty) group.
    const ops = ALERTS.filter((a) => a.group === 'operator').map((a) => a.alert);
    const empty = rule([`prometheusRule.disabled={${ops.join(',')}}`]).spec.groups;
    expect(empty.find((g) => g.name === 'homeops-operator')?.rules).toEqual([]);
    const lag = rule(['prometheusRule.thresholds.replicaLagSeconds=30'])
      .spec.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules)
      .find((r: { alert: string }) => r.alert === 'HomeOpsReplicaLagHigh');
    expect(lag?.expr).toBe('homeops_replica_lag_seconds > 30');
  });

  it('links every alert to a section of docs/runbooks.md', () => {
    const doc = readFileSync(join(CHART, '..', '..', 'docs', 'runbooks.md'), 'utf8');
    const anchors = new Set([...doc.matchAll(/^### (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const g of ruleGroups())
      for (const r of g.rules) expect(anchors, r.alert).toContain(r.annotations.runbook_url!.split('#')[1]);
  });

  it('reads in alerts and dashboard only series the operator exports', () => {
    const exported = exportedSeries();
    const used = [...ruleGroups().flatMap((g) => g.rules.map((r) => r.expr)), ...dashboardExprs()].flatMap(
      seriesIn,
    );
    expect(used.length).toBeGreaterThan(30);
    expect([...new Set(used)].filter((n) => !exported.has(n))).toEqual([]);
  });
});
