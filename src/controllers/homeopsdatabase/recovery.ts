/**
 * spec.bootstrap.recovery: a new database made from another's backups, never in place. The
 * operator picks the backup (pure: `planRecovery`, from the source's status.backup), records its
 * choice on the database's ConfigMap before anything is made (so a later backup of the source
 * never changes what this database was made from), and the start script restores it into the
 * empty volume, replays WAL to the target, promotes, and sets this database's own passwords.
 *
 * pgBackRest, left to pick, silently restores the latest backup when none ended before a time
 * target: the operator passes the backup itself (`--set`), and a target no backup can reach is
 * Stalled with a reason.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus, RecoverySpec } from '../../api/v1alpha1/index.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { TerminalError } from '../../runtime/result.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import {
  CONFIG_DIR,
  DATA_DIR,
  dbNames,
  POOLER_AUTH_USER,
  REPLICATION_USER,
  SECRETS_DIR,
  SOCKET_DIR,
  STANZA,
} from './names.ts';
import { type Repo, repoOf, repoOptions, repoVolume } from './repository.ts';

/** On the ConfigMap: the recovery decided, as JSON (RecoveryPlan). */
export const RECOVERY_ANNOTATION = 'homeops.io/recovery';
/** Where the source's repository is mounted (read-only) in the new primary. */
export const SOURCE_REPO_DIR = '/var/lib/pgbackrest-source';
export const RESTORE_CONF = `${CONFIG_DIR}/pgbackrest-restore.conf`;

export interface RecoveryPlan {
  source: string;
  /** The backup label restored. */
  backup: string;
  /** `time:...`, `lsn:...` or `latest`. */
  target: string;
  /** The source's repository when the plan was made (absent in plans of earlier versions: its volume). */
  repo?: Repo;
}

/** Where the source's S3 include files (its NAME-backup-s3 Secret) are mounted. */
export const SOURCE_S3_DIR = '/etc/homeops/recovery-s3';

const planRepo = (plan: RecoveryPlan): Repo =>
  plan.repo ?? {
    kind: 'volume',
    claim: dbNames({ metadata: { name: plan.source } } as HomeOpsDatabase).backupRepo,
  };
const sourceDir = (repo: Repo) => (repo.kind === 'volume' ? SOURCE_REPO_DIR : SOURCE_S3_DIR);
/** The include path of the source's S3 credentials, as a pgbackrest option (none for a volume). */
const includeArg = (plan: RecoveryPlan) =>
  planRepo(plan).kind === 's3' ? ` --config-include-path=${SOURCE_S3_DIR}` : '';

type Backups = NonNullable<NonNullable<HomeOpsDatabaseStatus['backup']>['backups']>;

const lsnValue = (lsn: string) => {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
};

/**
 * The backup to restore for `spec` from the source's backups: for a time, the last that ended
 * at least a second before it (pgBackRest's stop time is to the second); for an LSN, the last
 * consistent at or before it; for latest, the newest. Throws TerminalError (Stalled) when there
 * is none.
 */
export function planRecovery(spec: RecoverySpec, source: HomeOpsDatabase | undefined): RecoveryPlan {
  if (!source)
    throw new TerminalError(
      'RecoverySourceNotFound',
      `bootstrap.recovery.source: no HomeOpsDatabase ${spec.source} in this namespace`,
    );
  const backups: Backups = (source.status as HomeOpsDatabaseStatus | undefined)?.backup?.backups ?? [];
  if (!source.spec.backup || !backups.length)
    throw new TerminalError(
      'NoBackup',
      `bootstrap.recovery.source: ${spec.source} has no backup to restore${source.spec.backup ? ' yet' : ' (no spec.backup)'}`,
    );
  const first = backups[0]!;
  const { time, lsn } = spec.target;
  let candidates = backups;
  let target = 'latest';
  if (time) {
    target = `time:${time}`;
    candidates = backups.filter((b) => Date.parse(b.stopTime) + 1000 <= Date.parse(time));
  } else if (lsn) {
    target = `lsn:${lsn}`;
    candidates = backups.filter((b) => b.lsnStop && lsnValue(b.lsnStop) <= lsnValue(lsn));
  }
  const chosen = candidates.at(-1);
  if (!chosen)
    throw new TerminalError(
      'TargetBeforeFirstRecoverabilityPoint',
      `bootstrap.recovery.target ${target.replace(/^\w+:/, '')} is before the first recoverable point of ${spec.source} (${time ? first.stopTime : first.lsnStop}, the end of its oldest backup ${first.label}): no backup can reach it`,
    );
  return { source: spec.source, backup: chosen.label, target, repo: repoOf(source) };
}

/** The plan recorded on the ConfigMap, if any. */
export function recordedPlan(configMap: { metadata: { annotations?: Record<string, string> } } | undefined) {
  const raw = configMap?.metadata.annotations?.[RECOVERY_ANNOTATION];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as RecoveryPlan;
  } catch {
    return undefined;
  }
}

/** pgbackrest.conf for the restore: the source's repository, read-only; WAL fetched synchronously. */
export function renderRestoreConf(plan: RecoveryPlan): string {
  const repo = planRepo(plan);
  return [
    '# Written by homeops-operator from spec.bootstrap.recovery.',
    '[global]',
    ...repoOptions(repo, sourceDir(repo)),
    'lock-path=/tmp/pgbackrest',
    'log-path=/tmp/pgbackrest',
    'log-level-file=off',
    'log-level-console=warn',
    'log-level-stderr=warn',
    'process-max=2',
    '',
    `[${STANZA}]`,
    // Where the restore writes and archive-get runs (it chdirs there): the cluster being made.
    `pg1-path=${DATA_DIR}/pgdata.init`,
    '',
  ].join('\n');
}

/** The source repository's volume and its mount in the new primary. */
export function sourceRepoVolume(plan: RecoveryPlan) {
  const repo = planRepo(plan);
  return repoVolume(repo, 'recovery-repo', sourceDir(repo), true);
}

/**
 * RFC 3339 as recovery_target_time reads it: PostgreSQL checks it at start, before the time zone
 * abbreviations are loaded, so `Z` is refused ("invalid value"); a numeric offset is not.
 */
export const pgTargetTime = (t: string) => t.replace('T', ' ').replace(/[zZ]$/, '+00');

const targetArgs = (target: string) => {
  const [kind, value] = [target.split(':')[0], target.slice(target.indexOf(':') + 1)];
  if (kind === 'time') return `--type=time --target='${pgTargetTime(value)}' --target-action=promote`;
  return kind === 'lsn' ? `--type=lsn --target='${value}' --target-action=promote` : '';
};

/**
 * The start script's bootstrap from a backup (instead of initdb), into "$init": restore the
 * chosen backup, start the server on its socket only (peer for postgres, no statement logged:
 * the passwords pass through), wait until recovery has reached the target and promoted, set
 * this database's own passwords, drop the recovery settings, stop. A target not reached is
 * PostgreSQL's FATAL (it refuses to promote short of it), and the script exits with it.
 */
export function restoreScript(plan: RecoveryPlan, owner: string): string {
  const restoreCommand = `pgbackrest --config=${RESTORE_CONF}${includeArg(plan)} --stanza=${STANZA} archive-get %f "%p"`;
  return `  echo "homeops: restoring backup ${plan.backup} of ${plan.source} (target ${plan.target})"
  mkdir -p /tmp/pgbackrest
  mkdir -m 700 "$init"
  pgbackrest --config=${RESTORE_CONF}${includeArg(plan)} --stanza=${STANZA} --pg1-path="$init" --set=${plan.backup} \\
    ${targetArgs(plan.target)} --recovery-option=restore_command='${restoreCommand}' restore
  hba=/tmp/homeops-restore-hba.conf
  echo 'local all postgres peer' > "$hba"
  pg_ctl -D "$init" -w -t 3600 -l "$init/bootstrap.log" -o "-c config_file=$conf -c hba_file=$hba -c listen_addresses='' -c archive_mode=off -c log_min_duration_statement=-1 -c log_statement=none ${'$'}{preload_args:-} -c shared_preload_libraries=$preload" start >/dev/null || { tail -n 20 "$init/bootstrap.log" >&2; exit 1; }
  until [ "$(psql -X -At -h ${SOCKET_DIR} -U postgres -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; do
    if ! pg_ctl -D "$init" status >/dev/null 2>&1; then
      echo "homeops: recovery stopped before it reached its target:" >&2; tail -n 20 "$init/bootstrap.log" >&2; exit 1
    fi
    sleep 1
  done
  echo "homeops: recovered and promoted"
  psql -X -q -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -U postgres -d postgres <<'SQL'
\\set su_password \`cat ${SECRETS_DIR}/superuser/password\`
\\set app_password \`cat ${SECRETS_DIR}/app/password\`
\\set repl_password \`cat ${SECRETS_DIR}/replication/password\`
\\set pooler_password \`cat ${SECRETS_DIR}/pooler/password\`
ALTER ROLE postgres WITH PASSWORD :'su_password';
ALTER ROLE ${owner} WITH LOGIN PASSWORD :'app_password';
ALTER ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD :'repl_password';
ALTER ROLE ${POOLER_AUTH_USER} WITH LOGIN PASSWORD :'pooler_password';
ALTER SYSTEM RESET ALL;
SQL
  pg_ctl -D "$init" -m fast -w -t 120 stop >/dev/null
  rm -f "$init/bootstrap.log" "$hba"
`;
}

/**
 * The recovery of `db`, from the caches: the plan recorded on its ConfigMap, else (nothing made
 * yet) the plan from the source's backups now; none once its volume exists without one (made
 * before, restored or not: the start script restores only into an empty volume). Throws
 * TerminalError (Stalled) when no backup can serve.
 */
export function decideRecovery(db: HomeOpsDatabase, ctx: ReconcileContext): RecoveryPlan | undefined {
  const spec = db.spec.bootstrap?.recovery;
  if (!spec) return undefined;
  const ns = db.metadata.namespace;
  const n = dbNames(db);
  const recorded = recordedPlan(ctx.cache.get(Resources.ConfigMap, ns, n.config));
  if (recorded) return recorded;
  if (ctx.cache.get(Resources.PersistentVolumeClaim, ns, `data-${n.statefulSet}-0`)) return undefined;
  return planRecovery(
    spec,
    ctx.cache.get<HomeOpsDatabase & KubeObject>(Resources.HomeOpsDatabase, ns, spec.source),
  );
}

/** The databases recovering from `source` that have not started yet: a new backup of it wakes them. */
export const waitingOn = (all: (HomeOpsDatabase & KubeObject)[], source: KubeObject) =>
  all.filter(
    (d) =>
      d.spec?.bootstrap?.recovery?.source === source.metadata.name &&
      !(d.status as HomeOpsDatabaseStatus | undefined)?.recovery,
  );
