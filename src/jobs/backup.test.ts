import { describe, expect, it } from 'vitest';
import { BackupError, type PodExec, parseInfo, pgbackrestMessage, runBackup } from './backup.ts';

/** `pgbackrest info --output=json` as 2.55 prints it (src/command/info/info.c), one stanza. */
const backup = (
  label: string,
  type: string,
  start: number,
  stop: number,
  extra: Record<string, unknown> = {},
) => ({
  archive: { start: '000000010000000000000003', stop: '000000010000000000000004' },
  backrest: { format: 5, version: '2.55.1' },
  database: { id: 1, 'repo-key': 1 },
  error: false,
  info: { delta: 31_000_000, repository: { delta: 4_000_000, size: 4_000_000 }, size: 31_000_000 },
  label,
  lsn: { start: '0/3000028', stop: '0/3000100' },
  prior: null,
  reference: null,
  timestamp: { start, stop },
  type,
  ...extra,
});
const infoJson = (backups: unknown[], code = 0, message = 'ok') =>
  JSON.stringify([
    {
      archive: backups.length
        ? [
            {
              database: { id: 1, 'repo-key': 1 },
              id: '17-1',
              max: '000000010000000000000009',
              min: '000000010000000000000001',
            },
          ]
        : [],
      backup: backups,
      cipher: 'none',
      db: [{ id: 1, 'repo-key': 1, 'system-id': 7, version: '17' }],
      name: 'db',
      repo: [{ cipher: 'none', key: 1, status: { code, message } }],
      status: { code, lock: { backup: { held: false } }, message },
    },
  ]);

describe('parseInfo', () => {
  it('reads backups oldest first, their times, WAL and sizes; broken backups are left out', () => {
    const i = parseInfo(
      infoJson([
        backup('20261207-120000F_20261207-130000I', 'incr', 1796648400, 1796648410),
        backup('20261207-120000F', 'full', 1796644800, 1796644830),
        backup('20261207-140000F', 'full', 1796652000, 1796652030, { error: true }),
      ]),
      'db',
    );
    expect(i.code).toBe(0);
    expect(i.backups.map((b) => [b.label, b.type, b.stopTime])).toEqual([
      ['20261207-120000F', 'full', '2026-12-07T12:00:30.000Z'],
      ['20261207-120000F_20261207-130000I', 'incr', '2026-12-07T13:00:10.000Z'],
    ]);
    expect(i.backups[0]).toMatchObject({
      databaseBytes: 31_000_000,
      repositoryBytes: 4_000_000,
      walStart: '000000010000000000000003',
    });
    expect(i.archive).toEqual({ min: '000000010000000000000001', max: '000000010000000000000009' });
  });
  it('a stanza not in the list is missing (code 1); output that is not JSON is an error', () => {
    expect(parseInfo('[]', 'db').code).toBe(1);
    expect(parseInfo(infoJson([], 2, 'no valid backups'), 'db')).toMatchObject({ code: 2, backups: [] });
    expect(() => parseInfo('ERROR: [055]: unable to load info file', 'db')).toThrow(BackupError);
  });
});

describe('pgbackrestMessage', () => {
  it("keeps pgBackRest's ERROR lines, else the end of the output", () => {
    expect(
      pgbackrestMessage({
        code: 82,
        stdout: '',
        stderr:
          'WARN: something\nERROR: [082]: WAL segment 000000010000000000000004 was not archived before the 60000ms timeout\n',
      }),
    ).toBe('ERROR: [082]: WAL segment 000000010000000000000004 was not archived before the 60000ms timeout');
    expect(pgbackrestMessage({ code: 1, stdout: '', stderr: '' })).toBe('exit code 1');
  });
});

/** A pod whose pgBackRest answers from a script, recording what was run. */
function fakePod(
  script: (args: string[], ran: string[]) => { code: number; stdout?: string; stderr?: string },
) {
  const ran: string[] = [];
  const exec: PodExec = async (cmd) => {
    const args = cmd.slice(3);
    ran.push(args.join(' '));
    const r = script(args, ran);
    return { code: r.code, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  return { exec, ran };
}
const PREFIX = ['pgbackrest', '--config=/c', '--stanza=db'];

describe('runBackup', () => {
  it('first run: stanza-create, check, then the backup; reports the new backup', async () => {
    let stanza = false;
    let done = false;
    const pod = fakePod((args) => {
      if (args[0] === 'info')
        return {
          code: 0,
          stdout: stanza ? infoJson(done ? [backup('F1', 'full', 100, 200)] : [], done ? 0 : 2) : '[]',
        };
      if (args[0] === 'stanza-create') stanza = true;
      if (args[0] === 'backup') done = true;
      return { code: 0 };
    });
    const r = await runBackup(pod.exec, PREFIX, 'db', 'full');
    expect(pod.ran).toEqual([
      'info --output=json',
      'stanza-create',
      'info --output=json',
      'check',
      'backup --type=full',
      'info --output=json',
    ]);
    expect(r).toMatchObject({
      type: 'full',
      steps: ['stanza-create', 'check'],
      backup: { label: 'F1' },
      expired: [],
    });
    expect(r.backups[0]).not.toHaveProperty('databaseBytes');
  });
  it('later runs go straight to the backup, and say which backups expire removed', async () => {
    let after = false;
    const pod = fakePod((args) => {
      if (args[0] === 'info')
        return {
          code: 0,
          stdout: infoJson(
            after
              ? [backup('F2', 'full', 300, 400), backup('F3', 'full', 500, 600)]
              : [backup('F1', 'full', 100, 200), backup('F2', 'full', 300, 400)],
          ),
        };
      if (args[0] === 'backup') after = true;
      return { code: 0 };
    });
    const r = await runBackup(pod.exec, PREFIX, 'db', 'full');
    expect(pod.ran).toEqual(['info --output=json', 'backup --type=full', 'info --output=json']);
    expect(r.expired).toEqual(['F1']);
    expect(r.backup.label).toBe('F3');
  });
  it('a failed step is an error with its own reason and pgBackRest message; nothing after it runs', async () => {
    const pod = fakePod((args) =>
      args[0] === 'info'
        ? { code: 0, stdout: infoJson([], 2) }
        : {
            code: 82,
            stderr:
              'ERROR: [082]: WAL segment 000000010000000000000002 was not archived before the 60000ms timeout',
          },
    );
    const e = await runBackup(pod.exec, PREFIX, 'db', 'full').catch((x) => x);
    expect(e).toBeInstanceOf(BackupError);
    expect(e.reason).toBe('CheckFailed');
    expect(e.message).toMatch(/was not archived/);
    expect(pod.ran).not.toContain('backup --type=full');
  });
  it('a backup that info does not list is not reported as made', async () => {
    const pod = fakePod((args) =>
      args[0] === 'info' ? { code: 0, stdout: infoJson([backup('F1', 'full', 1, 2)]) } : { code: 0 },
    );
    await expect(runBackup(pod.exec, PREFIX, 'db', 'incr')).rejects.toMatchObject({
      reason: 'BackupMissing',
    });
  });
});
