/**
 * The Grafana dashboard the chart ships in a ConfigMap (labelled for Grafana's sidecar):
 * databases, pooler, replicas' lag, cache, benchmarks and the operator's own health, from the
 * series the operator exports (a test checks every name against its registry).
 */

interface Panel {
  title: string;
  unit: string;
  exprs: { expr: string; legend: string }[];
  /** Stat panels show one number per series; time series show history. */
  type?: 'timeseries' | 'stat';
}

const ns = 'namespace=~"$namespace"';
/** Grafana's datasource variable (its syntax, not a JavaScript template). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

const ROWS: { title: string; panels: Panel[] }[] = [
  {
    title: 'Databases',
    panels: [
      {
        title: 'Primary up',
        unit: 'none',
        type: 'stat',
        exprs: [{ expr: `homeops_database_up{${ns}}`, legend: '{{namespace}}/{{name}}' }],
      },
      {
        title: 'Connections / max_connections',
        unit: 'percentunit',
        exprs: [
          {
            expr: `homeops_database_connections{${ns},state="total"} / ignoring(state) homeops_database_max_connections{${ns}}`,
            legend: '{{namespace}}/{{name}}',
          },
        ],
      },
      {
        title: 'Buffer cache hit ratio',
        unit: 'percentunit',
        exprs: [{ expr: `homeops_database_cache_hit_ratio{${ns}}`, legend: '{{namespace}}/{{name}}' }],
      },
      {
        title: 'SELECT 1 round trip',
        unit: 's',
        exprs: [{ expr: `homeops_database_response_seconds{${ns}}`, legend: '{{namespace}}/{{name}}' }],
      },
      {
        title: 'Dead tuple ratio by table',
        unit: 'percentunit',
        exprs: [
          { expr: `homeops_database_dead_tuple_ratio{${ns}}`, legend: '{{namespace}}/{{name}} {{table}}' },
        ],
      },
      {
        title: 'Slow statements',
        unit: 'none',
        exprs: [{ expr: `homeops_database_slow_queries{${ns}}`, legend: '{{namespace}}/{{name}}' }],
      },
    ],
  },
  {
    title: 'Pooler',
    panels: [
      {
        title: 'PgBouncer clients',
        unit: 'none',
        exprs: [{ expr: `homeops_pooler_clients{${ns}}`, legend: '{{namespace}}/{{name}} {{state}}' }],
      },
      {
        title: 'Server connections',
        unit: 'none',
        exprs: [{ expr: `homeops_pooler_servers{${ns}}`, legend: '{{namespace}}/{{name}} {{state}}' }],
      },
      {
        title: 'Longest client wait',
        unit: 's',
        exprs: [{ expr: `homeops_pooler_max_wait_seconds{${ns}}`, legend: '{{namespace}}/{{name}}' }],
      },
    ],
  },
  {
    title: 'Replicas',
    panels: [
      {
        title: 'Replay lag',
        unit: 's',
        exprs: [
          {
            expr: `homeops_replica_lag_seconds{${ns}}`,
            legend: '{{namespace}}/{{name}} {{member}}',
          },
        ],
      },
      {
        title: 'Lag in bytes',
        unit: 'bytes',
        exprs: [{ expr: `homeops_replica_lag_bytes{${ns}}`, legend: '{{namespace}}/{{name}} {{member}}' }],
      },
      {
        title: 'In the read Service',
        unit: 'none',
        type: 'stat',
        exprs: [
          {
            expr: `homeops_replica_in_read_service{${ns}}`,
            legend: '{{namespace}}/{{name}} {{member}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Cache',
    panels: [
      {
        title: 'Memory used / maxmemory',
        unit: 'percentunit',
        exprs: [
          {
            expr: `homeops_cache_memory_used_bytes{${ns}} / (homeops_cache_memory_max_bytes{${ns}} > 0)`,
            legend: '{{namespace}}/{{name}} {{member}}',
          },
        ],
      },
      {
        title: 'Hit ratio',
        unit: 'percentunit',
        exprs: [{ expr: `homeops_cache_hit_ratio{${ns},member=""}`, legend: '{{namespace}}/{{name}}' }],
      },
      {
        title: 'Evictions per second',
        unit: 'ops',
        exprs: [
          {
            expr: `rate(homeops_cache_evicted_keys_total{${ns}}[5m])`,
            legend: '{{namespace}}/{{name}} {{member}}',
          },
        ],
      },
      {
        title: 'Replica lag',
        unit: 'bytes',
        exprs: [
          { expr: `homeops_cache_replica_lag_bytes{${ns}}`, legend: '{{namespace}}/{{name}} {{member}}' },
        ],
      },
      {
        title: 'Writer',
        unit: 'none',
        type: 'stat',
        exprs: [{ expr: `homeops_cache_writer{${ns}} == 1`, legend: '{{namespace}}/{{name}} {{member}}' }],
      },
    ],
  },
  {
    title: 'Benchmarks',
    panels: [
      {
        title: 'p95 by scenario',
        unit: 's',
        exprs: [
          {
            expr: `homeops_benchmark_seconds{${ns},quantile="0.95"}`,
            legend: '{{namespace}}/{{name}} {{scenario}}',
          },
        ],
      },
      {
        title: 'p95 over baseline',
        unit: 'none',
        exprs: [
          {
            expr: `homeops_benchmark_regression_ratio{${ns}}`,
            legend: '{{namespace}}/{{name}} {{scenario}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Operator',
    panels: [
      {
        title: 'Leader',
        unit: 'none',
        type: 'stat',
        exprs: [{ expr: 'leader_election_master_status', legend: '{{pod}}' }],
      },
      {
        title: 'Reconciles per second',
        unit: 'ops',
        exprs: [
          {
            expr: 'sum by (controller, result) (rate(controller_runtime_reconcile_total[5m]))',
            legend: '{{controller}} {{result}}',
          },
        ],
      },
      {
        title: 'Reconcile errors per second',
        unit: 'ops',
        exprs: [
          {
            expr: 'sum by (controller) (rate(controller_runtime_reconcile_errors_total[5m]))',
            legend: '{{controller}}',
          },
        ],
      },
      {
        title: 'Work queue depth',
        unit: 'none',
        exprs: [{ expr: 'sum by (name) (workqueue_depth)', legend: '{{name}}' }],
      },
      {
        title: 'API request latency p95',
        unit: 's',
        exprs: [
          {
            expr: 'histogram_quantile(0.95, sum by (le, verb) (rate(rest_client_request_duration_seconds_bucket[5m])))',
            legend: '{{verb}}',
          },
        ],
      },
      {
        title: 'Probe duration p95',
        unit: 's',
        exprs: [
          {
            expr: 'histogram_quantile(0.95, sum by (le) (rate(homeops_probe_duration_seconds_bucket[5m])))',
            legend: 'probe',
          },
        ],
      },
    ],
  },
];

/** Every PromQL expression of the dashboard (the tests check their series names). */
export const dashboardExprs = (): string[] =>
  ROWS.flatMap((r) => r.panels.flatMap((p) => p.exprs.map((e) => e.expr)));

export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
    });
    y += 1;
    row.panels.forEach((p, i) => {
      const w = 8;
      panels.push({
        id: id++,
        type: p.type ?? 'timeseries',
        title: p.title,
        datasource: DATASOURCE,
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        gridPos: { h: 8, w, x: (i % 3) * w, y: y + Math.floor(i / 3) * 8 },
        targets: p.exprs.map((e, j) => ({
          refId: String.fromCharCode(65 + j),
          expr: e.expr,
          legendFormat: e.legend,
          datasource: DATASOURCE,
        })),
      });
    });
    y += Math.ceil(row.panels.length / 3) * 8;
  }
  return {
    uid: 'homeops-operator',
    title: 'HomeOps data tier',
    tags: ['homeops', 'postgresql', 'redis'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', current: {} },
        {
          name: 'namespace',
          type: 'query',
          datasource: DATASOURCE,
          query: 'label_values(homeops_database_up, namespace)',
          includeAll: true,
          multi: true,
          allValue: '.*',
          current: { text: 'All', value: '$__all' },
          refresh: 2,
        },
      ],
    },
    panels,
  };
}
