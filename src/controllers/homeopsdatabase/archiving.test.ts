import { describe, expect, it } from 'vitest';
import { type ArchiverState, archivingCondition, archivingStatus, failing } from './archiving.ts';

const base: ArchiverState = { mode: 'on', archivedCount: 0, failedCount: 0 };
const ok = {
  ...base,
  archivedCount: 4,
  lastArchivedWal: '000000010000000000000004',
  lastArchivedTime: '2026-12-07T10:00:00.000Z',
};

describe('ContinuousArchiving', () => {
  it.each([
    ['archive_mode still off (waiting for the restart)', { ...base, mode: 'off' }, 'False', 'ArchiveModeOff'],
    ['nothing archived yet', base, 'Unknown', 'NothingArchivedYet'],
    ['archiving', ok, 'True', 'Archiving'],
    [
      'the last try failed after the last success',
      {
        ...ok,
        failedCount: 2,
        lastFailedWal: '000000010000000000000005',
        lastFailedTime: '2026-12-07T10:01:00.000Z',
        error: 'ERROR: [041]: unable to open file',
      },
      'False',
      'ArchiveFailed',
    ],
    [
      'failed before, archived since',
      {
        ...ok,
        failedCount: 2,
        lastFailedWal: '000000010000000000000003',
        lastFailedTime: '2026-12-07T09:59:00.000Z',
      },
      'True',
      'Archiving',
    ],
    [
      'failed, never archived',
      { ...base, failedCount: 1, lastFailedWal: 'W', lastFailedTime: '2026-12-07T10:00:00.000Z' },
      'False',
      'ArchiveFailed',
    ],
  ] as const)('%s', (_, state, status, reason) => {
    const c = archivingCondition(state as ArchiverState);
    expect([c.status, c.reason]).toEqual([status, reason]);
  });
  it("names the segment, the last good one and pgBackRest's message", () => {
    const s: ArchiverState = {
      ...ok,
      lastFailedWal: '000000010000000000000005',
      lastFailedTime: '2026-12-07T10:01:00.000Z',
      error: 'ERROR: [041]: unable to open file',
    };
    expect(failing(s)).toBe(true);
    expect(archivingCondition(s).message).toMatch(
      /000000010000000000000005.*000000010000000000000004.*unable to open file/,
    );
    expect(archivingStatus(s)).toEqual({
      lastArchivedWal: ok.lastArchivedWal,
      lastArchivedTime: ok.lastArchivedTime,
      lastFailedWal: '000000010000000000000005',
      lastFailedTime: '2026-12-07T10:01:00.000Z',
    });
  });
});
