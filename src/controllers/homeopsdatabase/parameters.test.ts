import { describe, expect, it } from 'vitest';
import { homeDatabaseObject } from '../../../test/support/objects.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { buildChildren } from './children.ts';
import {
  asRunning,
  changedParameters,
  FAILED_ANNOTATION,
  held,
  observeParameters,
  PARAMETERS_ANNOTATION,
  parameterRecord,
  parametersCondition,
  planParameters,
  recordedFailure,
  unaskedCheck,
  withParameters,
} from './parameters.ts';

describe('the parameter gate', () => {
  it('checks only what the spec sets anew or differently', () => {
    expect(changedParameters({ a: '1', b: '2', c: '3' }, { a: '1', b: '1', d: '4' })).toEqual({
      b: '2',
      c: '3',
    });
    expect(changedParameters({}, { a: '1' })).toEqual({});
  });

  it('holds on a refusal or on a check that could not be made, not on a clean one', () => {
    expect(held(undefined)).toBe(false);
    expect(held({ refused: {} })).toBe(false);
    expect(held({ refused: { work_mem: 'invalid' } })).toBe(true);
    expect(held({ error: 'connection refused' })).toBe(true);
  });

  it('holds a change while the primary only restarts, and lets it through to a primary that is down', () => {
    const view = { inForce: { work_mem: '8MB' }, runsInForce: false };
    // Restarting (a roll just made): the change waits to be asked, so 8XB never reaches the file.
    expect(held(unaskedCheck(view, false))).toBe(true);
    expect(planParameters({ work_mem: '8XB' }, view, unaskedCheck(view, false)).build).toEqual(view.inForce);
    // Crash-looping, or a start that failed: the fix goes through unchecked.
    expect(unaskedCheck(view, true)).toBeUndefined();
    expect(unaskedCheck({ ...view, failedStart: 'FATAL' }, false)).toBeUndefined();
  });

  it('builds the parameters in force while held: the ConfigMap and the pod template do not move', () => {
    const inForce = { work_mem: "'8MB'" };
    const running = homeDatabaseObject({ postgres: { parameters: inForce } });
    const typo = homeDatabaseObject({ postgres: { parameters: { work_mem: '8XB' } } });
    const strip = (objs: ReturnType<typeof buildChildren>) => JSON.stringify(objs);
    expect(strip(buildChildren(withParameters(typo, inForce), 'd'))).toBe(strip(buildChildren(running, 'd')));
    expect(strip(buildChildren(typo, 'd'))).not.toBe(strip(buildChildren(running, 'd')));
    const cm = buildChildren(running, 'd').find((o) => o.kind === 'ConfigMap')!;
    expect(JSON.parse(cm.metadata.annotations![PARAMETERS_ANNOTATION]!)).toEqual(inForce);
  });

  it('says what PostgreSQL refused, in its words, or that the check waits', () => {
    expect(
      parametersCondition({ refused: { work_mem: 'invalid value for parameter "work_mem": "8XB"' } }),
    ).toMatchObject({
      status: 'False',
      reason: 'ParameterRejected',
      message: expect.stringContaining('work_mem: invalid value for parameter "work_mem": "8XB"'),
    });
    expect(parametersCondition({ error: 'timeout' })).toMatchObject({
      status: 'Unknown',
      reason: 'CheckFailed',
    });
    expect(parametersCondition(undefined)).toMatchObject({ status: 'True', reason: 'Applied' });
  });

  it('gives what follows the database (its replicas) the parameters in force, not a held change', () => {
    const typo = homeDatabaseObject({ postgres: { parameters: { work_mem: '8XB' } } });
    const cm = buildChildren(homeDatabaseObject({ postgres: { parameters: { work_mem: '8MB' } } }), 'd').find(
      (o) => o.kind === 'ConfigMap',
    );
    const ctx = (found: unknown) => ({ cache: { get: () => found } }) as unknown as ReconcileContext;
    expect(asRunning(typo, ctx(cm)).spec.postgres.parameters).toEqual({ work_mem: '8MB' });
    // No record yet (a ConfigMap of an earlier version, or none): the spec.
    expect(asRunning(typo, ctx(undefined)).spec.postgres.parameters).toEqual({ work_mem: '8XB' });
  });
});

describe('planParameters', () => {
  const good = { work_mem: "'8MB'" };
  const bad = { ssl: 'on' };
  it.each([
    ['a new database: the spec', bad, {}, undefined, { build: bad }],
    [
      'Ready on what is in force, no change: no write for it',
      good,
      { inForce: good, runsInForce: true },
      undefined,
      { build: good },
    ],
    [
      'a change while Ready: what ran is recorded with it',
      bad,
      { inForce: good, runsInForce: true },
      { refused: {} },
      { build: bad, ran: good },
    ],
    [
      'a change PostgreSQL refused: held',
      bad,
      { inForce: good, ran: good, runsInForce: true },
      { refused: { ssl: 'no' } },
      { build: good, ran: good },
    ],
    [
      'a change that passed: the spec',
      bad,
      { inForce: good, ran: good, runsInForce: true },
      { refused: {} },
      { build: bad, ran: good },
    ],
    [
      'failed to start on a change: back to what ran',
      bad,
      { inForce: bad, ran: good, runsInForce: false, failedStart: 'FATAL: no cert' },
      undefined,
      { build: good, ran: good, rollback: { change: bad, message: 'FATAL: no cert' } },
    ],
    [
      'crash-loops on what already ran: nothing to go back to',
      good,
      { inForce: good, ran: good, runsInForce: false, failedStart: 'FATAL: disk' },
      undefined,
      { build: good, ran: good },
    ],
    [
      'a failed start remembered: held while the spec keeps it',
      bad,
      { inForce: good, ran: good, runsInForce: true },
      { failedStart: 'FATAL' },
      { build: good, ran: good },
    ],
  ] as const)('%s', (_, spec, view, check, want) => {
    expect(planParameters(spec, view as never, check as never)).toEqual(want);
  });
});

describe('a failed start, remembered on the ConfigMap', () => {
  const ran = { shared_buffers: "'128MB'" };
  const bad = { shared_buffers: "'64GB'" };
  const db = homeDatabaseObject({ postgres: { parameters: bad } });
  // The cache as a restarted operator finds it: only the ConfigMap it wrote (no memory of its own).
  const viewOf = (cm: ReturnType<typeof buildChildren>[number] | undefined) =>
    observeParameters(db, {
      cache: { get: (t: { kind: string }) => (t.kind === 'ConfigMap' ? cm : undefined) },
    } as never);

  it('is recorded at the rollback, read back by the next operator, and holds the same change without asking', () => {
    const crashed = {
      inForce: bad,
      ran,
      runsInForce: false,
      failedStart: 'FATAL: could not map shared memory',
    };
    const plan = planParameters(bad, crashed);
    expect(plan.rollback).toBeDefined();
    const record = parameterRecord(bad, crashed, plan);
    expect(record).toEqual({ ran, failed: { change: bad, message: 'FATAL: could not map shared memory' } });
    const cm = buildChildren(withParameters(db, plan.build), 'd', undefined, record).find(
      (o) => o.kind === 'ConfigMap',
    )!;
    expect(JSON.parse(cm.metadata.annotations![FAILED_ANNOTATION]!)).toEqual(record.failed);
    // Restarted, the primary Ready on what ran: the change is not asked of it again.
    const view = { ...viewOf(cm), runsInForce: true };
    const check = recordedFailure(bad, view);
    expect(check).toEqual({ failedStart: 'FATAL: could not map shared memory' });
    const again = planParameters(bad, view, check);
    expect(again.build).toEqual(ran);
    expect(parameterRecord(bad, view, again).failed).toEqual(record.failed);
    expect(parametersCondition(check)).toMatchObject({ status: 'False', reason: 'StartFailed' });
  });

  it('is forgotten once the spec asks for something else', () => {
    const cm = buildChildren(withParameters(db, ran), 'd', undefined, {
      ran,
      failed: { change: bad, message: 'FATAL' },
    }).find((o) => o.kind === 'ConfigMap')!;
    const view = { ...viewOf(cm), runsInForce: true };
    const fixed = { shared_buffers: "'256MB'" };
    expect(recordedFailure(fixed, view)).toBeUndefined();
    expect(parameterRecord(fixed, view, planParameters(fixed, view)).failed).toBeUndefined();
    expect(parameterRecord(ran, view, planParameters(ran, view)).failed).toBeUndefined();
  });
});
