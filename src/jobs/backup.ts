/**
 * `homeops-operator job backup --type=full|diff|incr`: a pgBackRest backup of the database's
 * primary, run where the data is (in the postgres container, through the exec API, as the Job's
 * ServiceAccount may do on that one pod), then what the repository holds after it (pgBackRest's
 * `info --output=json`, whose format is stable; the text output is not).
 *
 * The stanza is made the first time (`stanza-create` when info finds none) and `check` runs
 * before the first backup (it switches WAL and waits for it to reach the repository, so a
 * backup that could never be restored for want of archived WAL fails before it starts).
 */
import { Writable } from 'node:stream';

/** Runs one command in the primary's postgres container: its exit code and output. */
export type PodExec = (command: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface BackupInfo {
  label: string;
  type: 'full' | 'diff' | 'incr';
  startTime: string;
  stopTime: string;
  walStart?: string;
  walStop?: string;
  lsnStop?: string;
  databaseBytes?: number;
  repositoryBytes?: number;
}

export interface RepositoryInfo {
  /** pgBackRest's stanza status code: 0 ok, 1 missing stanza path, 2 no valid backups, ... */
  code: number;
  message: string;
  backups: BackupInfo[];
  archive?: { min: string; max: string };
}

export class BackupError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

const iso = (epochSeconds: unknown) =>
  typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : '';

/** `pgbackrest info --output=json` for one stanza, as the fields status needs. Pure. */
export function parseInfo(json: string, stanza: string): RepositoryInfo {
  let all: unknown;
  try {
    all = JSON.parse(json);
  } catch {
    throw new BackupError('InfoUnreadable', `pgbackrest info did not print JSON: ${json.slice(0, 300)}`);
  }
  const s = (Array.isArray(all) ? all : []).find((x) => (x as { name?: string }).name === stanza) as
    | Record<string, unknown>
    | undefined;
  if (!s) return { code: 1, message: 'missing stanza', backups: [] };
  const status = (s.status ?? {}) as { code?: number; message?: string };
  const backups = ((s.backup ?? []) as Record<string, unknown>[])
    .filter((b) => !b.error)
    .map((b): BackupInfo => {
      const t = (b.timestamp ?? {}) as { start?: number; stop?: number };
      const a = (b.archive ?? {}) as { start?: string; stop?: string };
      const info = (b.info ?? {}) as { size?: number; repository?: { delta?: number } };
      const lsn = (b.lsn ?? {}) as { stop?: string };
      return {
        label: String(b.label),
        type: b.type as BackupInfo['type'],
        startTime: iso(t.start),
        stopTime: iso(t.stop),
        ...(a.start ? { walStart: a.start } : {}),
        ...(a.stop ? { walStop: a.stop } : {}),
        ...(lsn.stop ? { lsnStop: lsn.stop } : {}),
        ...(typeof info.size === 'number' ? { databaseBytes: info.size } : {}),
        ...(typeof info.repository?.delta === 'number' ? { repositoryBytes: info.repository.delta } : {}),
      };
    })
    .sort((x, y) => Date.parse(x.stopTime) - Date.parse(y.stopTime));
  const archives = (s.archive ?? []) as { min?: string | null; max?: string | null }[];
  const mins = archives.map((a) => a.min).filter((m): m is string => !!m);
  const maxs = archives.map((a) => a.max).filter((m): m is string => !!m);
  return {
    code: status.code ?? 99,
    message: status.message ?? '',
    backups,
    ...(mins.length && maxs.length ? { archive: { min: mins.sort()[0]!, max: maxs.sort().at(-1)! } } : {}),
  };
}

/** pgBackRest's own words from a failed command: its ERROR lines, else the end of its output. */
export function pgbackrestMessage(out: { stdout: string; stderr: string; code: number }): string {
  const text = `${out.stderr}\n${out.stdout}`;
  const errors = text.split('\n').filter((l) => /\bERROR:/.test(l));
  const lines = errors.length ? errors : text.trim().split('\n').slice(-3);
  return (lines.join(' ').trim() || `exit code ${out.code}`).slice(0, 1000);
}

/**
 * The backup: info, stanza-create if none, check before the first backup, backup, info again.
 * `pgbackrest` is the command prefix with the operator's configuration and stanza.
 */
export async function runBackup(
  exec: PodExec,
  pgbackrest: string[],
  stanza: string,
  type: 'full' | 'diff' | 'incr',
) {
  const step = async (reason: string, ...args: string[]) => {
    const out = await exec([...pgbackrest, ...args]);
    if (out.code !== 0) throw new BackupError(reason, pgbackrestMessage(out));
    return out.stdout;
  };
  const info = async () => parseInfo(await step('InfoFailed', 'info', '--output=json'), stanza);
  let before = await info();
  const steps: string[] = [];
  if (before.code === 1 || before.code === 3) {
    await step('StanzaCreateFailed', 'stanza-create');
    steps.push('stanza-create');
    before = await info();
  }
  if (!before.backups.length) {
    await step('CheckFailed', 'check');
    steps.push('check');
  }
  await step('BackupFailed', 'backup', `--type=${type}`);
  const after = await info();
  const made = after.backups.filter((b) => !before.backups.some((o) => o.label === b.label)).at(-1);
  if (!made)
    throw new BackupError('BackupMissing', 'pgbackrest backup succeeded, but info lists no new backup');
  return {
    type,
    steps,
    backup: made,
    // The newest 16: status keeps a short list, and the summary must fit in 4 KiB.
    backups: after.backups.slice(-16).map(({ databaseBytes: _, repositoryBytes: __, ...b }) => b),
    ...(after.archive ? { archive: after.archive } : {}),
    expired: before.backups
      .filter((o) => !after.backups.some((b) => b.label === o.label))
      .map((b) => b.label),
  };
}

/** A Writable that keeps what it is given (bounded), for an exec's stdout and stderr. */
export function collector(limit = 4 << 20): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** PodExec through the Kubernetes exec API, as the pod's ServiceAccount (in-cluster). */
export async function inClusterExec(namespace: string, pod: string, container: string): Promise<PodExec> {
  const { Exec, KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromCluster();
  const api = new Exec(kc);
  return (command) =>
    new Promise((resolve, reject) => {
      const out = collector();
      const err = collector();
      let code: number | undefined;
      api
        .exec(namespace, pod, container, command, out.stream, err.stream, null, false, (status) => {
          if (status.status === 'Success') code = 0;
          else {
            const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
            code = exit !== undefined ? Number(exit) : 1;
            if (exit === undefined) err.stream.write(`\n${status.message ?? status.reason ?? 'exec failed'}`);
          }
        })
        .then(
          (ws) => {
            ws.on('close', () =>
              code === undefined
                ? reject(
                    new BackupError('ExecFailed', `exec into ${pod}: the connection closed without a status`),
                  )
                : resolve({ code, stdout: out.text(), stderr: err.text() }),
            );
            ws.on('error', (e: Error) =>
              reject(new BackupError('ExecFailed', `exec into ${pod}: ${e.message}`)),
            );
          },
          (e: Error) =>
            reject(new BackupError('ExecFailed', `exec into ${pod}: ${e.message}`.slice(0, 1000))),
        );
    });
}
