/** The chart rendered by the pinned Helm, and the operator's exported series, for the tests. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { parseAllDocuments } from 'yaml';
import { helmBinary, KUBE_VERSION } from '../../src/cmd/gen-chart.ts';
import { registerControllers } from '../../src/controllers/index.ts';
import { loadConfig } from '../../src/runtime/config.ts';
import { Manager } from '../../src/runtime/manager.ts';

export const CHART = join(import.meta.dirname, '..', '..', 'charts', 'homeops-operator');

let helmPath: string | undefined;
export const helm = () => (helmPath ??= helmBinary());

export interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [k: string]: unknown;
}

/**
 * The kubectl calls that let a release adopt CRDs another tool applied (the other test files,
 * a user's earlier `kubectl apply`): Helm's ownership label and annotations, as the README gives.
 */
export const adoptCrdCommands = (release: string, namespace: string): string[][] =>
  ['homeopsdatabases', 'cachetiers', 'replicasets'].flatMap((plural) => [
    ['label', 'crd', `${plural}.homeops.io`, 'app.kubernetes.io/managed-by=Helm', '--overwrite'],
    [
      'annotate',
      'crd',
      `${plural}.homeops.io`,
      `meta.helm.sh/release-name=${release}`,
      `meta.helm.sh/release-namespace=${namespace}`,
      '--overwrite',
    ],
  ]);

/** `helm template` of the chart with `--set` values, parsed. */
export function renderChart(set: string[] = [], namespace = 'homeops-system'): Rendered[] {
  const out = execFileSync(
    helm(),
    [
      'template',
      'homeops-operator',
      CHART,
      '--namespace',
      namespace,
      '--kube-version',
      KUBE_VERSION,
      ...set.flatMap((s) => ['--set', s]),
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Rendered | null)
    .filter((d): d is Rendered => !!d);
}

/**
 * The operator's metrics as `run` registers them (every controller on one Manager, never started):
 * name → label names. Histograms also answer to their _bucket/_sum/_count series.
 */
export function exportedSeries(): Map<string, string[]> {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const config = { ...loadConfig([], {}), metricsPort: 0, healthPort: 0, leaderElect: false };
  const manager = new Manager(config, kc, pino({ level: 'silent' }));
  registerControllers(manager, config, {});
  const out = new Map<string, string[]>();
  for (const m of manager.metrics.registry.getMetricsAsArray()) {
    const labels = [...((m as unknown as { labelNames?: string[] }).labelNames ?? [])];
    const type = (m as unknown as { type?: string }).type;
    out.set(m.name, labels);
    if (type === 'histogram') {
      out.set(`${m.name}_bucket`, [...labels, 'le']);
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    }
  }
  return out;
}

const NOT_SERIES = new Set(['histogram_quantile', 'label_values']);

/** The series names a PromQL expression reads (identifiers with an underscore, quotes removed). */
export function seriesIn(expr: string): string[] {
  const bare = expr.replace(/"[^"]*"/g, '""');
  return [...new Set(bare.match(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g) ?? [])].filter(
    (n) => !NOT_SERIES.has(n),
  );
}
