import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has controller-runtime-like defaults', () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({
      namespaces: [],
      concurrency: 8,
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

  it('takes concurrency per controller, the API client limits, images and how Services are dialled', () => {
    const c = loadConfig(
      [
        '--controller-concurrency=homeopsdatabase=4, cachetier=1',
        '--kube-api-qps=20',
        '--service-addresses=cluster-ip',
        '--postgres-image=localhost/homeops/postgres:15',
      ],
      {},
    );
    expect(c).toMatchObject({
      controllerConcurrency: { homeopsdatabase: 4, cachetier: 1 },
      kubeApiQps: 20,
      kubeApiBurst: 400,
      serviceAddresses: 'cluster-ip',
      postgresImage: 'localhost/homeops/postgres:15',
      pgbouncerImage: 'ghcr.io/cloudnative-pg/pgbouncer:1.23.0',
    });
    expect(() => loadConfig(['--controller-concurrency=homeopsdatabase=0'], {})).toThrow(/homeopsdatabase=0/);
    expect(() => loadConfig(['--service-addresses=magic'], {})).toThrow(/serviceAddresses/);
  });
});
