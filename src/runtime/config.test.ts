import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has controller-runtime-like defaults', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      namespaces: [],
      concurrency: 2,
      metricsPort: 8080,
      healthPort: 8081,
      leaderElect: true,
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      logLevel: 'info',
    });
    expect(c.identity).toMatch(/_[0-9a-f]{8}$/);
  });

  it('reads environment variables, and flags win over them', () => {
    const c = loadConfig(['--concurrency=4', '--leader-elect=false', '--namespaces=a, b'], {
      HOMEOPS_CONCURRENCY: '8',
      HOMEOPS_LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({
      concurrency: 4,
      leaderElect: false,
      namespaces: ['a', 'b'],
      logLevel: 'debug',
    });
  });

  it('lists every bad or unknown setting in one error', () => {
    expect(() => loadConfig(['--concurrency=zero', '--colour=blue', '--log-level=loud'], {})).toThrow(
      /unknown flag --colour=blue[\s\S]*--concurrency[\s\S]*--logLevel/,
    );
  });
});
