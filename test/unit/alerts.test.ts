/**
 * Every alert of the chart's PrometheusRule, checked and unit-tested by promtool (built from
 * Prometheus's Go module by hack/build-tools.sh): the rules come from the rendered chart, and
 * the input series carry exactly the label names the operator's registry exports. Each alert
 * fires on series past its threshold (labels and rendered annotations compared) and stays
 * quiet on series just inside it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { toolDir } from '../../src/cmd/gen-chart.ts';
import { ALERTS, ruleGroups } from '../../src/deploy/alerts.ts';
import { exportedSeries, renderChart } from '../support/chart.ts';

const promtool = () => join(toolDir('promtool'), 'promtool');

const DB = { namespace: 'shop', name: 'orders' };
const RS = { namespace: 'shop', name: 'orders-read' };

interface Case {
  /** Series (name → labels) with promtool's expanding notation for their values. */
  fire: [string, Record<string, string>, string][];
  calm: [string, Record<string, string>, string][];
  /** Labels of the alert beyond alertname and severity. */
  labels: Record<string, string>;
  /** How Prometheus renders `$value` in the annotations. */
  value?: string;
}

const CASES: Record<string, Case> = {
  HomeOpsDatabaseDown: {
    fire: [['homeops_database_up', DB, '0x60']],
    calm: [['homeops_database_up', DB, '1x60']],
    labels: DB,
  },
  HomeOpsPoolerDown: {
    fire: [['homeops_pooler_up', DB, '0x60']],
    calm: [['homeops_pooler_up', DB, '1x60']],
    labels: DB,
  },
  HomeOpsConnectionUsageHigh: {
    fire: [
      ['homeops_database_connections', { ...DB, state: 'total' }, '85x60'],
      ['homeops_database_connections', { ...DB, state: 'idle' }, '80x60'],
      ['homeops_database_max_connections', DB, '100x60'],
    ],
    calm: [
      ['homeops_database_connections', { ...DB, state: 'total' }, '79x60'],
      ['homeops_database_max_connections', DB, '100x60'],
    ],
    labels: DB,
    value: '85%',
  },
  HomeOpsCacheHitRatioLow: {
    fire: [['homeops_database_cache_hit_ratio', DB, '0.9x60']],
    calm: [['homeops_database_cache_hit_ratio', DB, '0.96x60']],
    labels: DB,
    value: '90%',
  },
  HomeOpsIndexScanRatioLow: {
    fire: [['homeops_database_index_scan_ratio', { ...DB, table: 'events' }, '0.5x60']],
    calm: [['homeops_database_index_scan_ratio', { ...DB, table: 'events' }, '0.85x60']],
    labels: { ...DB, table: 'events' },
    value: '50%',
  },
  HomeOpsDeadTuplesHigh: {
    fire: [['homeops_database_dead_tuple_ratio', { ...DB, table: 'events' }, '0.25x60']],
    calm: [['homeops_database_dead_tuple_ratio', { ...DB, table: 'events' }, '0.05x60']],
    labels: { ...DB, table: 'events' },
    value: '25%',
  },
  HomeOpsSlowQueries: {
    fire: [['homeops_database_slow_queries', DB, '3x60']],
    calm: [['homeops_database_slow_queries', DB, '0x60']],
    labels: DB,
    value: '3',
  },
  HomeOpsDatabaseSlowResponse: {
    fire: [['homeops_database_response_seconds', DB, '0.8x60']],
    calm: [['homeops_database_response_seconds', DB, '0.002x60']],
    labels: DB,
    value: '800ms',
  },
  HomeOpsPoolerClientsWaiting: {
    fire: [['homeops_pooler_max_wait_seconds', DB, '2x60']],
    calm: [['homeops_pooler_max_wait_seconds', DB, '0x60']],
    labels: DB,
    value: '2s',
  },
  HomeOpsReplicaLagHigh: {
    fire: [['homeops_replica_lag_seconds', { ...RS, member: 'orders-read-0' }, '12x60']],
    calm: [['homeops_replica_lag_seconds', { ...RS, member: 'orders-read-0' }, '0.3x60']],
    labels: { ...RS, member: 'orders-read-0' },
    value: '12s',
  },
  HomeOpsReadServiceEmpty: {
    fire: [
      ['homeops_replica_in_read_service', { ...RS, member: 'orders-read-0' }, '0x60'],
      ['homeops_replica_in_read_service', { ...RS, member: 'orders-read-1' }, '0x60'],
    ],
    calm: [
      ['homeops_replica_in_read_service', { ...RS, member: 'orders-read-0' }, '0x60'],
      ['homeops_replica_in_read_service', { ...RS, member: 'orders-read-1' }, '1x60'],
    ],
    labels: RS,
  },
  HomeOpsCacheDown: {
    fire: [['homeops_cache_up', { namespace: 'shop', name: 'cache', member: 'cache-redis-1' }, '0x60']],
    calm: [['homeops_cache_up', { namespace: 'shop', name: 'cache', member: 'cache-redis-1' }, '1x60']],
    labels: { namespace: 'shop', name: 'cache', member: 'cache-redis-1' },
  },
  HomeOpsCacheMemoryHigh: {
    fire: [
      [
        'homeops_cache_memory_used_bytes',
        { namespace: 'shop', name: 'cache', member: 'cache-redis-0' },
        '95x60',
      ],
      [
        'homeops_cache_memory_max_bytes',
        { namespace: 'shop', name: 'cache', member: 'cache-redis-0' },
        '100x60',
      ],
    ],
    calm: [
      // No maxmemory (0) is no ratio at all, not an alert.
      [
        'homeops_cache_memory_used_bytes',
        { namespace: 'shop', name: 'cache', member: 'cache-redis-0' },
        '95x60',
      ],
      [
        'homeops_cache_memory_max_bytes',
        { namespace: 'shop', name: 'cache', member: 'cache-redis-0' },
        '0x60',
      ],
    ],
    labels: { namespace: 'shop', name: 'cache', member: 'cache-redis-0' },
    value: '95%',
  },
  HomeOpsCacheNoWriter: {
    fire: [
      ['homeops_cache_writer', { namespace: 'shop', name: 'cache', member: 'cache-redis-0' }, '0x60'],
      ['homeops_cache_writer', { namespace: 'shop', name: 'cache', member: 'cache-redis-1' }, '0x60'],
    ],
    calm: [
      ['homeops_cache_writer', { namespace: 'shop', name: 'cache', member: 'cache-redis-0' }, '0x60'],
      ['homeops_cache_writer', { namespace: 'shop', name: 'cache', member: 'cache-redis-1' }, '1x60'],
    ],
    labels: { namespace: 'shop', name: 'cache' },
  },
  HomeOpsBenchmarkRegression: {
    fire: [['homeops_benchmark_regression_ratio', { ...DB, scenario: 'recent-events' }, '2.5x60']],
    calm: [['homeops_benchmark_regression_ratio', { ...DB, scenario: 'recent-events' }, '1.6x60']],
    labels: { ...DB, scenario: 'recent-events' },
    value: '2.5',
  },
  HomeOpsBenchmarkRegressionCritical: {
    fire: [['homeops_benchmark_regression_ratio', { ...DB, scenario: 'recent-events' }, '4.2x60']],
    calm: [['homeops_benchmark_regression_ratio', { ...DB, scenario: 'recent-events' }, '2.5x60']],
    labels: { ...DB, scenario: 'recent-events' },
    value: '4.2',
  },
  HomeOpsOperatorNoLeader: {
    fire: [
      ['leader_election_master_status', { name: 'homeops-operator-leader', pod: 'a' }, '0x60'],
      ['leader_election_master_status', { name: 'homeops-operator-leader', pod: 'b' }, '0x60'],
    ],
    calm: [
      ['leader_election_master_status', { name: 'homeops-operator-leader', pod: 'a' }, '0x60'],
      ['leader_election_master_status', { name: 'homeops-operator-leader', pod: 'b' }, '1x60'],
    ],
    labels: {},
  },
  HomeOpsWalArchivingFailing: {
    fire: [['homeops_database_wal_archive_failing', { ...DB, reason: 'ArchiveFailed' }, '1x60']],
    calm: [
      ['homeops_database_wal_archive_failing', { ...DB, reason: 'none' }, '0x60'],
      // The repository's own trouble is the next alert's, not this one's.
      ['homeops_database_wal_archive_failing', { ...RS, reason: 'RepositoryUnreachable' }, '1x60'],
    ],
    labels: { ...DB, reason: 'ArchiveFailed' },
  },
  HomeOpsBackupRepositoryUnreachable: {
    fire: [['homeops_database_wal_archive_failing', { ...DB, reason: 'RepositoryAccessDenied' }, '1x60']],
    calm: [['homeops_database_wal_archive_failing', { ...DB, reason: 'ArchiveFailed' }, '1x60']],
    labels: { ...DB, reason: 'RepositoryAccessDenied' },
  },
  HomeOpsBackupMissed: {
    // Timestamps before the test's epoch: the 45th minute is hours after them.
    fire: [
      ['homeops_backup_last_scheduled_timestamp_seconds', DB, '-30000x60'],
      ['homeops_backup_last_success_timestamp_seconds', DB, '-700000x60'],
    ],
    calm: [
      ['homeops_backup_last_scheduled_timestamp_seconds', DB, '-30000x60'],
      ['homeops_backup_last_success_timestamp_seconds', DB, '-29000x60'],
    ],
    labels: DB,
  },
  HomeOpsReconcileErrors: {
    fire: [['controller_runtime_reconcile_errors_total', { controller: 'cachetier' }, '0+30x60']],
    calm: [['controller_runtime_reconcile_errors_total', { controller: 'cachetier' }, '0+3x60']],
    labels: { controller: 'cachetier' },
  },
};

/** Labels a scraper adds (pod) are allowed; every label the operator exports must be given. */
const SCRAPE_LABELS = new Set(['pod']);

const series = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;

/** Prometheus's rendering of our annotation templates for one alert's labels and value. */
function expand(text: string, labels: Record<string, string>, value: string | undefined): string {
  return text
    .replace(/\{\{ \$labels\.([a-z]+) \}\}/g, (_, l: string) => labels[l] ?? '')
    .replace(/\{\{ \$value[^}]*\}\}/g, () => {
      if (value === undefined) throw new Error(`give the case a value for: ${text}`);
      return value;
    });
}

describe("the chart's alerts under promtool", () => {
  it('has a firing and a quiet case for every alert, on series named and labelled as the operator exports them', () => {
    expect(Object.keys(CASES).sort()).toEqual(ALERTS.map((a) => a.alert).sort());
    const exported = exportedSeries();
    for (const [alert, c] of Object.entries(CASES))
      for (const [name, labels] of [...c.fire, ...c.calm]) {
        expect(exported.has(name), `${alert}: ${name}`).toBe(true);
        expect(
          Object.keys(labels)
            .filter((l) => !SCRAPE_LABELS.has(l))
            .sort(),
          `${alert}: labels of ${name}`,
        ).toEqual([...exported.get(name)!].sort());
      }
  });

  it('checks the rendered PrometheusRule and passes promtool test rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeops-alerts-'));
    const rule = renderChart(['prometheusRule.enabled=true']).find(
      (d) => d.kind === 'PrometheusRule',
    ) as unknown as {
      spec: { groups: unknown[] };
    };
    expect(rule.spec.groups).toEqual(ruleGroups());
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
    const check = execFileSync(promtool(), ['check', 'rules', join(dir, 'rules.yaml')], { encoding: 'utf8' });
    expect(check).toMatch(new RegExp(`SUCCESS: ${ALERTS.length} rules found`));

    const byName = new Map(ruleGroups().flatMap((g) => g.rules.map((r) => [r.alert, r] as const)));
    const tests = Object.entries(CASES).flatMap(([alert, c]) => {
      const r = byName.get(alert)!;
      const labels = { ...c.labels };
      const annotations = Object.fromEntries(
        Object.entries(r.annotations).map(([k, v]) => [k, expand(v, labels, c.value)]),
      );
      const input = (s: Case['fire']) => s.map(([n, l, values]) => ({ series: series(n, l), values }));
      return [
        {
          name: `${alert} fires`,
          interval: '1m',
          input_series: input(c.fire),
          alert_rule_test: [
            {
              eval_time: '45m',
              alertname: alert,
              exp_alerts: [
                { exp_labels: { ...labels, severity: r.labels.severity }, exp_annotations: annotations },
              ],
            },
          ],
        },
        {
          name: `${alert} stays quiet`,
          interval: '1m',
          input_series: input(c.calm),
          alert_rule_test: [{ eval_time: '45m', alertname: alert, exp_alerts: [] }],
        },
      ];
    });
    writeFileSync(
      join(dir, 'tests.yaml'),
      stringify({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }),
    );
    let out: string;
    try {
      out = execFileSync(promtool(), ['test', 'rules', join(dir, 'tests.yaml')], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      throw new Error(`promtool test rules failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    expect(out).toMatch(/SUCCESS/);
  });
});
