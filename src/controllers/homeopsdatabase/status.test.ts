import { describe, expect, it } from 'vitest';
import { type HomeOpsDatabase, homeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import type { PoolerMeasurement, PrimaryMeasurement } from './prober.ts';
import { databaseStatus, type Observation } from './status.ts';

const spec = homeOpsDatabaseSpec.parse({});
const db = (over: Partial<HomeOpsDatabase['spec']> = {}): HomeOpsDatabase => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: 'db', namespace: 'ns', generation: 3, uid: 'u' },
  spec: { ...spec, ...over },
});
const primary: PrimaryMeasurement = {
  responseMs: 1,
  connections: { active: 1, idle: 1, total: 2, max: 100, usagePercent: 2 },
  cacheHitRatio: 0.99,
  tables: [],
  slowQueries: 0,
  statementsAvailable: true,
  extensions: {
    installed: { plpgsql: '1.0' },
    available: {},
    preloaded: ['pg_stat_statements'],
    startedAt: 't0',
  },
  timescale: { available: false },
};
const pooler: PoolerMeasurement = {
  clientsActive: 0,
  clientsWaiting: 0,
  serversActive: 0,
  serversIdle: 1,
  maxWaitSeconds: 0,
};
const up: Observation = { primaryPodReady: true, poolerReadyInstances: 2, primary, pooler };
const cond = (s: ReturnType<typeof databaseStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe('databaseStatus: the first failing check names Ready', () => {
  const noPooler = { pooler: { ...spec.pooler, enabled: false } };
  const timescale = { postgres: { ...spec.postgres, timescale: 'enabled' as const } };
  it.each<[string, Partial<HomeOpsDatabase['spec']>, Observation, string, string, string]>([
    ['all up', {}, up, 'True', 'Ready', 'Ready'],
    [
      'the pod is starting',
      {},
      { primaryPodReady: false, poolerReadyInstances: 0 },
      'False',
      'Provisioning',
      'Provisioning',
    ],
    [
      'the image cannot be pulled',
      {},
      {
        primaryPodReady: false,
        poolerReadyInstances: 0,
        podIssue: { reason: 'ImagePullBackOff', message: 'x' },
      },
      'False',
      'ImagePullBackOff',
      'Provisioning',
    ],
    [
      'the primary refuses',
      {},
      { ...up, primary: undefined, primaryError: { reason: 'ConnectionRefused', message: 'refused' } },
      'False',
      'ConnectionRefused',
      'Degraded',
    ],
    ['the primary was not probed', {}, { ...up, primary: undefined }, 'False', 'NotProbed', 'Degraded'],
    [
      'no pooler pod is ready',
      {},
      { ...up, pooler: undefined, poolerReadyInstances: 0 },
      'False',
      'PoolerNotReady',
      'Degraded',
    ],
    [
      'the pooler refuses logins',
      {},
      { ...up, pooler: undefined, poolerError: { reason: 'AuthenticationFailed', message: 'SASL' } },
      'False',
      'AuthenticationFailed',
      'Degraded',
    ],
    [
      'a disabled pooler is not needed',
      noPooler,
      { ...up, pooler: undefined, poolerReadyInstances: 0 },
      'True',
      'Ready',
      'Ready',
    ],
    [
      'pg_stat_statements is missing',
      {},
      { ...up, primary: { ...primary, statementsAvailable: false } },
      'False',
      'ExtensionMissing',
      'Degraded',
    ],
    ['timescale enabled without the extension', timescale, up, 'False', 'TimescaleUnavailable', 'Degraded'],
    [
      'timescale enabled with it',
      timescale,
      {
        ...up,
        primary: { ...primary, timescale: { available: true, version: '2.23.0', license: 'timescale' } },
      },
      'True',
      'Ready',
      'Ready',
    ],
    [
      'a declared extension the image lacks',
      {},
      {
        ...up,
        extensions: [
          {
            name: 'vector',
            phase: 'Unavailable',
            required: true,
            message: 'extension vector is not available',
          },
        ],
      },
      'False',
      'ExtensionUnavailable',
      'Degraded',
    ],
    [
      'a declared version the image lacks',
      {},
      { ...up, extensions: [{ name: 'vector', phase: 'VersionUnavailable', required: true }] },
      'False',
      'ExtensionUnavailable',
      'Degraded',
    ],
    [
      'a library waiting for a restart',
      {},
      { ...up, extensions: [{ name: 'timescaledb', phase: 'RestartPending', required: true }] },
      'False',
      'ExtensionRestartPending',
      'Degraded',
    ],
    [
      'CREATE EXTENSION failed',
      {},
      { ...up, extensions: [{ name: 'vector', phase: 'Failed', required: true, message: 'x' }] },
      'False',
      'ExtensionFailed',
      'Degraded',
    ],
    [
      'timescale auto on an image without it',
      {},
      { ...up, extensions: [{ name: 'timescaledb', phase: 'Unavailable', required: false }] },
      'True',
      'Ready',
      'Ready',
    ],
    [
      'an alert fires',
      {},
      {
        ...up,
        primary: { ...primary, connections: { ...primary.connections, total: 90, usagePercent: 90 } },
      },
      'True',
      'Ready',
      'Degraded',
    ],
  ])('%s', (_, over, o, status, reason, phase) => {
    const s = databaseStatus(db(over), o, {});
    expect(cond(s, 'Ready')).toMatchObject({ status, reason, observedGeneration: 3 });
    expect(s.phase).toBe(phase);
    expect(s.observedGeneration).toBe(3);
  });

  it('names the pod and the pooler, and says what waits on what', () => {
    const starting = databaseStatus(db(), { primaryPodReady: false, poolerReadyInstances: 1 }, {});
    expect(cond(starting, 'PrimaryAvailable')).toMatchObject({
      reason: 'PodNotReady',
      message: 'waiting for pod db-0 to be Ready',
    });
    expect(cond(starting, 'PoolerAvailable')).toMatchObject({ reason: 'PrimaryNotReady' });
    expect(cond(starting, 'Reconciling')).toMatchObject({ status: 'True' });
    const pulled = databaseStatus(
      db(),
      {
        primaryPodReady: false,
        poolerReadyInstances: 0,
        podIssue: { reason: 'ErrImagePull', message: 'no such image' },
      },
      {},
    );
    expect(cond(pulled, 'PrimaryAvailable')?.message).toBe('pod db-0: no such image');
    expect(cond(pulled, 'Ready')?.message).toBe('primary pod db-0: no such image');
    const notProbed = databaseStatus(db(), { ...up, pooler: undefined }, {});
    expect(cond(notProbed, 'PoolerAvailable')).toMatchObject({ reason: 'NotProbed' });
  });

  it('measures nothing it did not measure: no figures and no alerts without a probe', () => {
    const first = databaseStatus(db(), up, {});
    expect(first.primary?.connections?.max).toBe(100);
    expect(cond(first, 'HighConnectionUsage')).toBeDefined();
    const down = databaseStatus(
      db(),
      {
        ...up,
        primary: undefined,
        pooler: undefined,
        primaryError: { reason: 'ConnectionRefused', message: 'x' },
      },
      first,
    );
    expect(down.primary).toBeUndefined();
    expect(down.pooler).toBeUndefined();
    expect(cond(down, 'HighConnectionUsage')).toBeUndefined();
    expect(
      cond(databaseStatus(db({ pooler: { ...spec.pooler, enabled: false } }), up, first), 'PoolerAvailable'),
    ).toBeUndefined();
  });

  it("is the controller's part only: another writer's conditions and figures are not repeated", () => {
    const prev = {
      ...databaseStatus(db(), up, {}),
      migrations: { applied: 3 },
      conditions: [
        ...databaseStatus(db(), up, {}).conditions!,
        {
          type: 'MigrationsApplied',
          status: 'True' as const,
          reason: 'Applied',
          message: '3 applied',
          lastTransitionTime: '2026-11-27T00:00:00Z',
        },
      ],
    };
    const next = databaseStatus(db(), up, prev);
    expect(cond(next, 'MigrationsApplied')).toBeUndefined();
    expect(next).not.toHaveProperty('migrations');
    // A condition that did not flip keeps its transition time.
    expect(cond(next, 'Ready')?.lastTransitionTime).toBe(cond(prev, 'Ready')?.lastTransitionTime);
  });
});

describe('status.extensions and ExtensionsReady', () => {
  it('lists what pg_extension holds and says which declared extensions are installed', () => {
    const o: Observation = {
      ...up,
      primary: {
        ...primary,
        extensions: { ...primary.extensions, installed: { vector: '0.8.0', plpgsql: '1.0' } },
      },
      extensions: [{ name: 'vector', phase: 'Installed', required: true, version: '0.8.0' }],
    };
    const s = databaseStatus(db(), o, {});
    expect(s.extensions).toEqual([
      { name: 'plpgsql', version: '1.0' },
      { name: 'vector', version: '0.8.0' },
    ]);
    expect(cond(s, 'ExtensionsReady')).toMatchObject({ status: 'True', message: 'installed: vector 0.8.0' });
  });

  it('refuses to unload timescaledb that is installed but no longer declared, and says so', () => {
    const off = db({ postgres: { ...spec.postgres, timescale: 'disabled' } });
    off.status = { extensions: [{ name: 'timescaledb', version: '2.19.3' }] };
    const s = databaseStatus(off, { ...up, extensions: [] }, off.status);
    expect(cond(s, 'ExtensionsReady')).toMatchObject({ status: 'False', reason: 'ExtensionRemovalRefused' });
    expect(cond(s, 'Ready')?.status).toBe('True');
  });

  it('keeps the last list when the primary cannot be probed, and adds no condition', () => {
    const prev = { extensions: [{ name: 'vector', version: '0.8.0' }] };
    const s = databaseStatus(db(), { ...up, primary: undefined }, prev);
    expect(s.extensions).toEqual(prev.extensions);
    expect(cond(s, 'ExtensionsReady')).toBeUndefined();
  });
});
