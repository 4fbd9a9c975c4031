import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { recoverySpec } from '../../api/v1alpha1/index.ts';
import { TerminalError } from '../../runtime/result.ts';
import { buildStatefulSet } from './builders.ts';
import { planRecovery, restoreScript } from './recovery.ts';

const b = (label: string, stopTime: string, lsnStop: string) => ({
  label,
  type: 'full' as const,
  startTime: stopTime,
  stopTime,
  lsnStop,
});
const source = (backups: ReturnType<typeof b>[], withBackup = true): HomeOpsDatabase => ({
  ...db(withBackup ? { backup: {} } : {}),
  status: { backup: { backups } },
});
const src = source([
  b('F1', '2026-12-01T01:00:05.000Z', '0/3000100'),
  b('F2', '2026-12-02T01:00:05.000Z', '0/9000100'),
]);
const spec = (target: Record<string, string> = {}) => recoverySpec.parse({ source: 'home', target });
const stalled = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof TerminalError ? e.reason : `not terminal: ${e}`;
  }
  return 'no error';
};

describe('planRecovery', () => {
  it('a time: the last backup that ended before it (a second of margin for its stop time)', () => {
    expect(planRecovery(spec({ time: '2026-12-02T12:00:00Z' }), src)).toEqual({
      source: 'home',
      backup: 'F2',
      target: 'time:2026-12-02T12:00:00Z',
      repo: { kind: 'volume', claim: 'home-backup-repo' },
    });
    expect(planRecovery(spec({ time: '2026-12-02T01:00:05.500Z' }), src).backup).toBe('F1');
    expect(planRecovery(spec({ time: '2026-12-02T01:00:06Z' }), src).backup).toBe('F2');
  });
  it('an LSN: the last backup consistent at or before it; latest: the newest', () => {
    expect(planRecovery(spec({ lsn: '0/8FFFFFF' }), src).backup).toBe('F1');
    expect(planRecovery(spec({ lsn: '1/0' }), src)).toMatchObject({ backup: 'F2', target: 'lsn:1/0' });
    expect(planRecovery(spec(), src)).toMatchObject({ backup: 'F2', target: 'latest' });
  });
  it('never the latest backup instead: a target before the first recoverable point is Stalled', () => {
    expect(stalled(() => planRecovery(spec({ time: '2026-12-01T01:00:05Z' }), src))).toBe(
      'TargetBeforeFirstRecoverabilityPoint',
    );
    expect(stalled(() => planRecovery(spec({ lsn: '0/1000000' }), src))).toBe(
      'TargetBeforeFirstRecoverabilityPoint',
    );
  });
  it('a source that is missing, without spec.backup or without backups is Stalled', () => {
    expect(stalled(() => planRecovery(spec(), undefined))).toBe('RecoverySourceNotFound');
    expect(stalled(() => planRecovery(spec(), source([], true)))).toBe('NoBackup');
    expect(stalled(() => planRecovery(spec(), source([b('F1', 'x', '0/1')], false)))).toBe('NoBackup');
  });
  it('admission: time or lsn, not both; an LSN is two hex numbers', () => {
    expect(() => spec({ time: '2026-12-01T00:00:00Z', lsn: '0/1' })).toThrow(/not both/);
    expect(() => spec({ lsn: '16B3748' })).toThrow();
    expect(() => spec({ time: 'yesterday' })).toThrow();
  });
});

describe('the restore', () => {
  const plan = { source: 'home', backup: 'F2', target: 'time:2026-12-02T12:00:00Z' };
  it('restores the chosen set (never left to pgBackRest) and promotes at the target', () => {
    const s = restoreScript(plan, 'homeops');
    expect(s).toContain(
      "--set=F2 \\\n    --type=time --target='2026-12-02 12:00:00+00' --target-action=promote",
    );
    expect(s).toContain("ALTER ROLE homeops WITH LOGIN PASSWORD :'app_password'");
    expect(s).toContain('-c log_statement=none');
    expect(restoreScript({ ...plan, target: 'latest' }, 'o')).not.toContain('--type=');
  });
  it("mounts the source's repository read-only, and gives the start-up 12 hours", () => {
    // biome-ignore lint/suspicious/noExplicitAny: a built object, walked freely
    const pod = (buildStatefulSet(db(), 'd', undefined, plan) as any).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'recovery-repo',
      persistentVolumeClaim: { claimName: 'home-backup-repo', readOnly: true },
    });
    expect(pod.containers[0].startupProbe.failureThreshold).toBe(8640);
  });
});
