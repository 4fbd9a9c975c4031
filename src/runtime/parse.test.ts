import { describe, expect, it } from 'vitest';
import { homeOpsDatabase } from '../api/v1alpha1/index.ts';
import { parseWith } from './builder.ts';
import { TerminalError } from './result.ts';

describe('parseWith: the one place a spec that does not parse becomes Stalled', () => {
  const parse = parseWith(homeOpsDatabase);
  const obj = (spec: unknown) => ({
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: 'db', namespace: 'ns', uid: 'u', resourceVersion: '7', managedFields: [] },
    spec,
    status: { phase: 'Ready' },
  });

  it('hands the reconciler the defaulted spec, with metadata and status as they came', () => {
    const db = parse(obj({})) as ReturnType<typeof parse> & { spec: { pooler: { defaultPoolSize: number } } };
    expect(db.spec.pooler.defaultPoolSize).toBe(20);
    expect(db.metadata).toEqual(obj({}).metadata);
    expect(db.status).toEqual({ phase: 'Ready' });
  });

  it('throws a TerminalError InvalidSpec naming the field', () => {
    let err: unknown;
    try {
      parse(obj({ pooler: { poolMode: 'bogus' } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as TerminalError).reason).toBe('InvalidSpec');
    expect((err as TerminalError).message).toContain('spec.pooler.poolMode');
  });
});
