/** The benchmarks' and the backups' series of each database, dropped with it (`forget`). */
import type { Registry } from 'prom-client';
import type { HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { ObjectGauges } from '../../common/series.ts';

/**
 * homeops_benchmark_seconds{scenario,quantile}, homeops_benchmark_regression_ratio{scenario} and,
 * for approximate scenarios, homeops_benchmark_recall{scenario}.
 */
export class BenchmarkMetrics {
  private readonly series: ObjectGauges<'seconds' | 'ratio' | 'recall'>;

  constructor(registry: Registry) {
    this.series = new ObjectGauges(registry, {
      seconds: {
        name: 'homeops_benchmark_seconds',
        help: "The last benchmark run's latency quantiles per scenario",
        labels: ['scenario', 'quantile'],
      },
      ratio: {
        name: 'homeops_benchmark_regression_ratio',
        help: 'p95 of the last run over the baseline p95, per scenario',
        labels: ['scenario'],
      },
      recall: {
        name: 'homeops_benchmark_recall',
        help: "Recall@10 of an approximate scenario's last run against the exact answer",
        labels: ['scenario'],
      },
    });
  }

  set(namespace: string, name: string, b: NonNullable<HomeOpsDatabaseStatus['benchmarks']>) {
    const sec = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
    this.series.record(namespace, name, (set) => {
      for (const s of b.scenarios ?? []) {
        set('seconds', sec(s.p50Ms), { scenario: s.name, quantile: '0.5' });
        set('seconds', sec(s.p95Ms), { scenario: s.name, quantile: '0.95' });
        set('seconds', sec(s.p99Ms), { scenario: s.name, quantile: '0.99' });
        set('ratio', s.ratio, { scenario: s.name });
        set('recall', s.recallAt10, { scenario: s.name });
      }
    });
  }

  forget(namespace: string, name: string) {
    this.series.forget(namespace, name);
  }
}

const seconds = (iso: string | undefined) => (iso ? Date.parse(iso) / 1000 : undefined);

/**
 * homeops_backup_last_success_timestamp_seconds and homeops_backup_last_failure_timestamp_seconds
 * (from status.backup, which the backup Jobs read from pgBackRest), and
 * homeops_backup_last_scheduled_timestamp_seconds (the newest start of a backup CronJob): a
 * scheduled backup that has not succeeded hours later is the alert HomeOpsBackupMissed.
 */
export class BackupMetrics {
  private readonly series: ObjectGauges<'success' | 'failure' | 'scheduled'>;

  constructor(registry: Registry) {
    this.series = new ObjectGauges(registry, {
      success: {
        name: 'homeops_backup_last_success_timestamp_seconds',
        help: 'When the last successful backup ended (pgBackRest info)',
      },
      failure: {
        name: 'homeops_backup_last_failure_timestamp_seconds',
        help: 'When the last backup Job failed',
      },
      scheduled: {
        name: 'homeops_backup_last_scheduled_timestamp_seconds',
        help: 'When a backup CronJob last started a backup',
      },
    });
  }

  set(namespace: string, name: string, b: HomeOpsDatabaseStatus['backup'], lastScheduled: string[]) {
    this.series.record(namespace, name, (set) => {
      set('success', seconds(b?.lastSuccessful?.stopTime));
      set('failure', seconds(b?.lastFailed?.time));
      set('scheduled', seconds(lastScheduled.sort().at(-1)));
    });
  }

  forget(namespace: string, name: string) {
    this.series.forget(namespace, name);
  }
}
