/** The benchmarks' latency and regression series of each database, dropped with it (`forget`). */
import { Gauge, type Registry } from 'prom-client';
import type { HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';

/** homeops_benchmark_seconds{scenario,quantile} and homeops_benchmark_regression_ratio{scenario}. */
export class BenchmarkMetrics {
  private readonly seconds: Gauge<'namespace' | 'name' | 'scenario' | 'quantile'>;
  private readonly ratio: Gauge<'namespace' | 'name' | 'scenario'>;
  private readonly known = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    this.seconds = new Gauge({
      name: 'homeops_benchmark_seconds',
      help: "The last benchmark run's latency quantiles per scenario",
      labelNames: ['namespace', 'name', 'scenario', 'quantile'] as const,
      registers: [registry],
    });
    this.ratio = new Gauge({
      name: 'homeops_benchmark_regression_ratio',
      help: 'p95 of the last run over the baseline p95, per scenario',
      labelNames: ['namespace', 'name', 'scenario'] as const,
      registers: [registry],
    });
  }

  set(namespace: string, name: string, b: NonNullable<HomeOpsDatabaseStatus['benchmarks']>) {
    this.forget(namespace, name);
    const names = new Set<string>();
    for (const s of b.scenarios ?? []) {
      names.add(s.name);
      const q = (quantile: string, ms: number | undefined) =>
        ms !== undefined && this.seconds.set({ namespace, name, scenario: s.name, quantile }, ms / 1000);
      q('0.5', s.p50Ms);
      q('0.95', s.p95Ms);
      q('0.99', s.p99Ms);
      if (s.ratio !== undefined) this.ratio.set({ namespace, name, scenario: s.name }, s.ratio);
    }
    this.known.set(`${namespace}/${name}`, names);
  }

  forget(namespace: string, name: string) {
    for (const scenario of this.known.get(`${namespace}/${name}`) ?? []) {
      for (const quantile of ['0.5', '0.95', '0.99'])
        this.seconds.remove({ namespace, name, scenario, quantile });
      this.ratio.remove({ namespace, name, scenario });
    }
    this.known.delete(`${namespace}/${name}`);
  }
}
