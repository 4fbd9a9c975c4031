/**
 * The alerts of the chart's PrometheusRule: the guide's monitoring thresholds ("Automated
 * Performance Alerts", the replica lag rule, the benchmark severities) over the series the
 * operator exports. One list renders both the chart's template (thresholds from values, each alert
 * excludable) and the plain rules the tests feed to `promtool test rules`.
 */

export const DEFAULT_THRESHOLDS = {
  /** The guide's highConnectionCount: 80 % of max_connections. */
  connectionUsage: 0.8,
  /** The guide's cacheHitRatio. */
  cacheHitRatio: 0.95,
  /** The guide's indexScanRatio. */
  indexScanRatio: 0.8,
  /** The guide's deadTupleRatio. */
  deadTupleRatio: 0.1,
  /** The guide's PerformanceTracker responseTime (500 ms), on the probe's SELECT 1. */
  responseSeconds: 0.5,
  /** Not in the guide: a client waiting this long for a server connection means the pool is too small. */
  poolerWaitSeconds: 1,
  /** The guide's maxLagMs for reads from replicas (5 s). */
  replicaLagSeconds: 5,
  /** The CacheTier's MemoryPressure bound (90 % of maxmemory). */
  cacheMemoryRatio: 0.9,
  /** The guide's benchmark severities: above 2 is major, above 3 critical. */
  benchmarkMajor: 2,
  benchmarkCritical: 3,
  /**
   * How long a scheduled backup may go without a success: the backup Job's own deadline (6 h)
   * and an hour more.
   */
  backupMissedSeconds: 25200,
  /** Reconcile errors per second, per controller, that mean something is failing steadily. */
  reconcileErrorsPerSecond: 0.1,
};

export type Thresholds = typeof DEFAULT_THRESHOLDS;
type T = (key: keyof Thresholds) => string;

export interface AlertDef {
  alert: string;
  group: 'databases' | 'backups' | 'replicas' | 'caches' | 'benchmarks' | 'operator';
  severity: 'warning' | 'critical';
  for: string;
  expr: (t: T, lease: string) => string;
  summary: string;
  description: string;
}

const db = '{{ $labels.namespace }}/{{ $labels.name }}';

export const ALERTS: AlertDef[] = [
  {
    alert: 'HomeOpsDatabaseDown',
    group: 'databases',
    severity: 'critical',
    for: '2m',
    expr: () => 'homeops_database_up == 0',
    summary: `PostgreSQL of ${db} does not answer`,
    description: `The operator's probe of the primary of ${db} has failed for 2 minutes.`,
  },
  {
    alert: 'HomeOpsPoolerDown',
    group: 'databases',
    severity: 'critical',
    for: '2m',
    expr: () => 'homeops_pooler_up == 0',
    summary: `PgBouncer of ${db} does not answer`,
    description: `The operator's probe of the pooler of ${db} has failed for 2 minutes; applications connecting through it fail.`,
  },
  {
    alert: 'HomeOpsConnectionUsageHigh',
    group: 'databases',
    severity: 'critical',
    for: '5m',
    expr: (t) =>
      `homeops_database_connections{state="total"} / ignoring(state) homeops_database_max_connections > ${t('connectionUsage')}`,
    summary: `${db} uses {{ $value | humanizePercentage }} of max_connections`,
    description: `Client connections of ${db} are above the bound: scale the pool or find the connection leak.`,
  },
  {
    alert: 'HomeOpsCacheHitRatioLow',
    group: 'databases',
    severity: 'warning',
    for: '15m',
    expr: (t) => `homeops_database_cache_hit_ratio < ${t('cacheHitRatio')}`,
    summary: `Buffer cache hit ratio of ${db} is {{ $value | humanizePercentage }}`,
    description: `Reads of ${db} miss shared_buffers more than the guide allows.`,
  },
  {
    alert: 'HomeOpsIndexScanRatioLow',
    group: 'databases',
    severity: 'warning',
    for: '30m',
    expr: (t) => `homeops_database_index_scan_ratio < ${t('indexScanRatio')}`,
    summary: `Table {{ $labels.table }} of ${db} is read mostly by sequential scans`,
    description: `Index scans are {{ $value | humanizePercentage }} of the scans of {{ $labels.table }}.`,
  },
  {
    alert: 'HomeOpsDeadTuplesHigh',
    group: 'databases',
    severity: 'warning',
    for: '30m',
    expr: (t) => `homeops_database_dead_tuple_ratio > ${t('deadTupleRatio')}`,
    summary: `Table {{ $labels.table }} of ${db} has {{ $value | humanizePercentage }} dead tuples`,
    description: 'Autovacuum is not keeping up with this table.',
  },
  {
    alert: 'HomeOpsSlowQueries',
    group: 'databases',
    severity: 'warning',
    for: '10m',
    expr: () => 'homeops_database_slow_queries > 0',
    summary: `${db} has {{ $value }} statements slower than spec.monitoring.slowQueryMs on average`,
    description: 'From pg_stat_statements (mean_exec_time).',
  },
  {
    alert: 'HomeOpsDatabaseSlowResponse',
    group: 'databases',
    severity: 'warning',
    for: '5m',
    expr: (t) => `homeops_database_response_seconds > ${t('responseSeconds')}`,
    summary: `SELECT 1 on ${db} takes {{ $value | humanizeDuration }}`,
    description: 'The primary answers its probe slower than the guide allows for a response.',
  },
  {
    alert: 'HomeOpsPoolerClientsWaiting',
    group: 'databases',
    severity: 'warning',
    for: '5m',
    expr: (t) => `homeops_pooler_max_wait_seconds > ${t('poolerWaitSeconds')}`,
    summary: `Clients of ${db} wait {{ $value | humanizeDuration }} for a server connection`,
    description: 'PgBouncer has no free server connection for its clients: the pool is too small.',
  },
  {
    alert: 'HomeOpsWalArchivingFailing',
    group: 'backups',
    severity: 'critical',
    for: '5m',
    expr: () => 'homeops_database_wal_archive_failing{reason!~"Repository.*"} == 1',
    summary: `WAL of ${db} is not being archived ({{ $labels.reason }})`,
    description: `The primary of ${db} cannot archive WAL: point-in-time recovery stops at the last archived segment, and WAL piles up in pg_wal until the data volume is full. ContinuousArchiving's message has pgBackRest's error.`,
  },
  {
    alert: 'HomeOpsBackupRepositoryUnreachable',
    group: 'backups',
    severity: 'critical',
    for: '5m',
    expr: () => 'homeops_database_wal_archive_failing{reason=~"Repository.*"} == 1',
    summary: `The backup repository of ${db} fails: {{ $labels.reason }}`,
    description: `pgBackRest cannot reach the repository of ${db}, or it refuses the keys or the TLS check: WAL is not archived and backups fail until it works again.`,
  },
  {
    alert: 'HomeOpsBackupMissed',
    group: 'backups',
    severity: 'warning',
    for: '10m',
    expr: (t) =>
      `(time() - homeops_backup_last_scheduled_timestamp_seconds > ${t('backupMissedSeconds')}) unless on(namespace, name) (homeops_backup_last_success_timestamp_seconds >= on(namespace, name) homeops_backup_last_scheduled_timestamp_seconds)`,
    summary: `The last scheduled backup of ${db} has not succeeded`,
    description: `A backup CronJob of ${db} started a backup hours ago and no backup has succeeded since: the newest backup is older than its schedule. BackupSucceeded and status.backup.lastFailed say why.`,
  },
  {
    alert: 'HomeOpsReplicaLagHigh',
    group: 'replicas',
    severity: 'warning',
    for: '1m',
    expr: (t) => `homeops_replica_lag_seconds > ${t('replicaLagSeconds')}`,
    summary:
      'Replica {{ $labels.member }} of {{ $labels.namespace }}/{{ $labels.name }} is {{ $value | humanizeDuration }} behind',
    description: 'The read Service stops routing to a member above its bound until it catches up.',
  },
  {
    alert: 'HomeOpsReadServiceEmpty',
    group: 'replicas',
    severity: 'critical',
    for: '2m',
    expr: () => 'max by (namespace, name) (homeops_replica_in_read_service) == 0',
    summary: 'No replica of {{ $labels.namespace }}/{{ $labels.name }} is in its read Service',
    description: 'Every member is lagging or not streaming: reads through the -ro Service fail.',
  },
  {
    alert: 'HomeOpsCacheDown',
    group: 'caches',
    severity: 'critical',
    for: '2m',
    expr: () => 'homeops_cache_up == 0',
    summary: `Redis member {{ $labels.member }} of ${db} does not answer`,
    description: 'The operator could not read INFO from this member for 2 minutes.',
  },
  {
    alert: 'HomeOpsCacheMemoryHigh',
    group: 'caches',
    severity: 'warning',
    for: '10m',
    expr: (t) =>
      `homeops_cache_memory_used_bytes / (homeops_cache_memory_max_bytes > 0) > ${t('cacheMemoryRatio')}`,
    summary: `Redis member {{ $labels.member }} of ${db} uses {{ $value | humanizePercentage }} of maxmemory`,
    description: 'Keys are being evicted by the eviction policy; raise maxMemory or lower TTLs.',
  },
  {
    alert: 'HomeOpsCacheNoWriter',
    group: 'caches',
    severity: 'critical',
    for: '1m',
    expr: () => 'max by (namespace, name) (homeops_cache_writer) == 0',
    summary: `CacheTier ${db} has no writer`,
    description: 'The writer Service routes nowhere: writes fail until the operator elects one.',
  },
  {
    alert: 'HomeOpsBenchmarkRegression',
    group: 'benchmarks',
    severity: 'warning',
    for: '0m',
    expr: (t) =>
      `homeops_benchmark_regression_ratio > ${t('benchmarkMajor')} and homeops_benchmark_regression_ratio <= ${t('benchmarkCritical')}`,
    summary: `Scenario {{ $labels.scenario }} of ${db} is {{ $value | printf "%.1f" }}x its baseline`,
    description: 'A major regression by the guide (above 2x the baseline p95).',
  },
  {
    alert: 'HomeOpsBenchmarkRegressionCritical',
    group: 'benchmarks',
    severity: 'critical',
    for: '0m',
    expr: (t) => `homeops_benchmark_regression_ratio > ${t('benchmarkCritical')}`,
    summary: `Scenario {{ $labels.scenario }} of ${db} is {{ $value | printf "%.1f" }}x its baseline`,
    description: 'A critical regression by the guide (above 3x the baseline p95).',
  },
  {
    alert: 'HomeOpsOperatorNoLeader',
    group: 'operator',
    severity: 'critical',
    for: '5m',
    expr: (_t, lease) => `max(leader_election_master_status{name="${lease}"}) < 1`,
    summary: 'No homeops-operator process leads',
    description: 'Every operator replica is a standby: nothing reconciles the data tier.',
  },
  {
    alert: 'HomeOpsReconcileErrors',
    group: 'operator',
    severity: 'warning',
    for: '15m',
    expr: (t) =>
      `sum by (controller) (rate(controller_runtime_reconcile_errors_total[5m])) > ${t('reconcileErrorsPerSecond')}`,
    summary: 'The {{ $labels.controller }} controller keeps failing',
    description:
      "Reconciles fail steadily: the resources' Stalled conditions and the operator's log say why.",
  },
];

/** The docs/runbooks.md anchor of an alert (its heading is the alert's name). */
export const runbookAnchor = (alert: string) => alert.toLowerCase();

export interface RuleGroup {
  name: string;
  rules: {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }[];
}

/** Plain rule groups, as Prometheus loads them (promtool's input in the tests). */
export function ruleGroups(
  thresholds: Thresholds = DEFAULT_THRESHOLDS,
  opts: { lease?: string; runbookBaseUrl?: string; disabled?: string[] } = {},
): RuleGroup[] {
  const lease = opts.lease ?? 'homeops-operator-leader';
  const base = opts.runbookBaseUrl ?? RUNBOOK_BASE_URL;
  const groups = [...new Set(ALERTS.map((a) => a.group))];
  return groups.map((g) => ({
    name: `homeops-${g}`,
    rules: ALERTS.filter((a) => a.group === g && !opts.disabled?.includes(a.alert)).map((a) => ({
      alert: a.alert,
      expr: a.expr((k) => String(thresholds[k]), lease),
      for: a.for,
      labels: { severity: a.severity },
      annotations: {
        summary: a.summary,
        description: a.description,
        runbook_url: `${base}#${runbookAnchor(a.alert)}`,
      },
    })),
  }));
}

export const RUNBOOK_BASE_URL = 'https://github.com/homeops/homeops-operator/blob/main/docs/runbooks.md';

/**
 * The chart's templates/prometheusrule.yaml: thresholds from `.Values.prometheusRule.thresholds`,
 * each alert left out when named in `.Values.prometheusRule.disabled`. Prometheus's own
 * `{{ $labels }}` templates are passed through Helm as raw strings.
 */
export function prometheusRuleTemplate(): string {
  const raw = (s: string) => `{{ \`${s}\` | quote }}`;
  const groups = [...new Set(ALERTS.map((a) => a.group))];
  const lines = [
    '{{- /* Generated by `npm run gen:chart` from src/deploy/alerts.ts: edit that file. */ -}}',
    '{{- if .Values.prometheusRule.enabled }}',
    '{{- $t := .Values.prometheusRule.thresholds }}',
    '{{- $off := .Values.prometheusRule.disabled }}',
    '{{- $runbooks := .Values.prometheusRule.runbookBaseUrl }}',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: {{ include "homeops-operator.fullname" . }}',
    '  namespace: {{ .Release.Namespace }}',
    '  labels:',
    '    {{- include "homeops-operator.labels" . | nindent 4 }}',
    '    {{- with .Values.prometheusRule.additionalLabels }}',
    '    {{- toYaml . | nindent 4 }}',
    '    {{- end }}',
    'spec:',
    '  groups:',
  ];
  for (const g of groups) {
    lines.push(`  - name: homeops-${g}`, '    rules:');
    const alerts = ALERTS.filter((a) => a.group === g);
    // An empty group is valid for Prometheus; keep `rules: []` when all are disabled.
    lines.push(
      `    {{- if not (and ${alerts.map((a) => `(has "${a.alert}" $off)`).join(' ')}) }}`,
      '    {{- else }} []',
      '    {{- end }}',
    );
    for (const a of alerts) {
      lines.push(
        `    {{- if not (has "${a.alert}" $off) }}`,
        `    - alert: ${a.alert}`,
        '      expr: |-',
        `        ${a.expr((k) => `{{ $t.${k} }}`, '{{ include "homeops-operator.leaseName" . }}')}`,
        `      for: ${a.for}`,
        '      labels:',
        `        severity: ${a.severity}`,
        '      annotations:',
        `        summary: ${raw(a.summary)}`,
        `        description: ${raw(a.description)}`,
        `        runbook_url: "{{ $runbooks }}#${runbookAnchor(a.alert)}"`,
        '    {{- end }}',
      );
    }
  }
  lines.push('{{- end }}', '');
  return lines.join('\n');
}
