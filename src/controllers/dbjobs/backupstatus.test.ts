import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { backupStatus } from './backupstatus.ts';
import type { RunView } from './schedulestatus.ts';

const b = (label: string, type: 'full' | 'incr', stop: string) => ({
  label,
  type,
  startTime: stop,
  stopTime: stop,
});
const run = (name: string, over: Partial<RunView>): RunView => ({
  name,
  running: false,
  succeeded: false,
  failed: false,
  schedule: 'backup-full',
  kind: 'backup',
  ...over,
});
const good = (name: string, at: string, backups: ReturnType<typeof b>[]) =>
  run(name, {
    succeeded: true,
    completionTime: at,
    summary: {
      job: 'backup',
      ok: true,
      ...({
        type: backups.at(-1)!.type,
        backup: { ...backups.at(-1)!, databaseBytes: 5, repositoryBytes: 2 },
        backups,
      } as object),
    },
  });
const bad = (name: string, at: string) =>
  run(name, {
    failed: true,
    created: at,
    summary: {
      job: 'backup',
      ok: false,
      reason: 'CheckFailed',
      message: 'ERROR: [082]: WAL segment was not archived',
    },
  });

describe('status.backup and BackupSucceeded', () => {
  const spec = db({ backup: {} });
  it('nothing without spec.backup', () => {
    expect(backupStatus(db(), [], {})).toEqual({ conditions: [] });
  });
  it('no backup yet, one running, one done', () => {
    expect(backupStatus(spec, [], {}).conditions[0]).toMatchObject({
      status: 'Unknown',
      reason: 'NoBackupYet',
    });
    expect(backupStatus(spec, [run('j0', { running: true })], {}).conditions[0]).toMatchObject({
      reason: 'Running',
    });
    const s = backupStatus(
      spec,
      [good('j1', '2026-12-07T10:00:00Z', [b('F1', 'full', 'T1'), b('I1', 'incr', 'T2')])],
      {},
    );
    expect(s.conditions[0]).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(s.backup).toMatchObject({
      lastSuccessful: { label: 'I1', type: 'incr', job: 'j1', databaseBytes: 5 },
      firstRecoverabilityPoint: 'T1',
      backups: [{ label: 'F1' }, { label: 'I1' }],
    });
  });
  it("a failure after a success is False with pgBackRest's message, naming the last good backup", () => {
    const s = backupStatus(
      spec,
      [good('j1', '2026-12-07T10:00:00Z', [b('F1', 'full', 'T1')]), bad('j2', '2026-12-07T11:00:00Z')],
      {},
    );
    expect(s.conditions[0]).toMatchObject({ status: 'False', reason: 'CheckFailed' });
    expect(s.conditions[0]!.message).toMatch(/not archived.*last good backup is F1/);
    expect(s.backup).toMatchObject({
      lastSuccessful: { label: 'F1' },
      lastFailed: { job: 'j2', reason: 'CheckFailed' },
    });
  });
  it('what pruned Jobs said is kept from the status before', () => {
    const prev = {
      backup: { lastSuccessful: { ...b('F0', 'full', 'T0'), job: 'old' }, backups: [b('F0', 'full', 'T0')] },
    };
    const s = backupStatus(spec, [], prev);
    expect(s.backup).toEqual(prev.backup);
    expect(s.conditions[0]).toMatchObject({ status: 'True' });
  });
});
