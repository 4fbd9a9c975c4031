/**
 * The text of postgresql.conf, pg_hba.conf and pgbouncer.ini from a spec: the guide's settings,
 * merged with the user's parameters (the API refuses the keys the operator owns). Pure.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { PRELOAD_REQUESTED_SETTING } from '../../pg/extensions.ts';
import { archiveSettings, backupDirsScript } from './backup.ts';
import {
  CONFIG_DIR,
  DATA_DIR,
  POOLER_AUTH_USER,
  POSTGRES_PORT,
  REPLICATION_USER,
  SECRETS_DIR,
  SOCKET_DIR,
} from './names.ts';
import { type RecoveryPlan, restoreScript } from './recovery.ts';

/** The guide's postgresql.conf for a primary, before the user's parameters. */
export function guidePostgresSettings(): Record<string, string> {
  return {
    listen_addresses: "'*'",
    port: String(POSTGRES_PORT),
    password_encryption: "'scram-sha-256'",
    wal_level: 'replica',
    max_wal_senders: '10',
    max_replication_slots: '10',
    wal_keep_size: "'1GB'",
    hot_standby: 'on',
    max_standby_streaming_delay: "'30s'",
    hot_standby_feedback: 'on',
    track_io_timing: 'on',
    log_min_duration_statement: '100',
    'pg_stat_statements.track': "'all'",
    unix_socket_directories: "'/var/run/postgresql'",
    hba_file: `'${CONFIG_DIR}/pg_hba.conf'`,
  };
}

/**
 * A user value as a postgresql.conf literal that reads back as exactly that value: plain
 * numbers and booleans as they are; a value already written as one well-formed quoted literal
 * (`'all'`) as it is; anything else quoted, with PostgreSQL's escapes for `'` and `\` (the
 * configuration scanner reads backslash escapes inside quotes). Control characters never get
 * here: admission refuses them.
 */
export function confValue(v: string): string {
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(v) || /^(on|off|true|false)$/i.test(v)) return v;
  if (/^'(?:[^'\\]|'')*'$/.test(v)) return v;
  return `'${v.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * Settings PostgreSQL reads only at server start (pg_settings context `postmaster` on
 * PostgreSQL 15 to 17; `test/integration/pgsettings.test.ts` holds the list to the real server's).
 * A change to any other setting is applied with a reload, without a restart.
 */
export const RESTART_SETTINGS = new Set(
  `archive_mode autovacuum_freeze_max_age autovacuum_max_workers autovacuum_multixact_freeze_max_age
  bonjour bonjour_name cluster_name commit_timestamp_buffers config_file data_directory
  data_sync_retry debug_io_direct dynamic_shared_memory_type event_source external_pid_file hba_file
  hot_standby huge_page_size huge_pages ident_file ignore_invalid_pages jit_provider listen_addresses
  logging_collector max_connections max_files_per_process max_locks_per_transaction
  max_logical_replication_workers max_notify_queue_pages max_pred_locks_per_transaction
  max_prepared_transactions max_replication_slots max_wal_senders max_worker_processes
  min_dynamic_shared_memory multixact_member_buffers multixact_offset_buffers notify_buffers
  old_snapshot_threshold port recovery_target recovery_target_action recovery_target_inclusive
  recovery_target_lsn recovery_target_name recovery_target_time recovery_target_timeline
  recovery_target_xid reserved_connections serializable_buffers shared_buffers shared_memory_type
  shared_preload_libraries subtransaction_buffers superuser_reserved_connections
  track_activity_query_size track_commit_timestamp transaction_buffers unix_socket_directories
  unix_socket_group unix_socket_permissions wal_buffers wal_decode_buffer_size wal_level wal_log_hints`.split(
    /\s+/,
  ),
);

/** Whether changing `name` needs a restart: a listed setting, or an extension's `ext.name` (often read at start). */
export const needsRestart = (name: string) => name.includes('.') || RESTART_SETTINGS.has(name.toLowerCase());

/**
 * A setting of the operator's own in postgresql.conf: the digest of the file's settings. What
 * PostgreSQL has loaded (`current_setting`) and what is on disk (`pg_file_settings`) tell the
 * operator when the kubelet has delivered a new file and a reload is due.
 */
export const DIGEST_SETTING = 'homeops.config_digest';

function postgresSettings(spec: HomeOpsDatabaseSpec): Record<string, string> {
  const settings: Record<string, string> = guidePostgresSettings();
  for (const [k, v] of Object.entries(spec.postgres.parameters)) settings[k] = confValue(v);
  // After the user's: these are the operator's (admission refuses them in parameters).
  Object.assign(settings, archiveSettings(spec));
  return settings;
}

/** The digest postgresql.conf carries in DIGEST_SETTING. */
export function configDigest(spec: HomeOpsDatabaseSpec): string {
  const settings = postgresSettings(spec);
  const text = Object.keys(settings)
    .sort()
    .map((k) => `${k} = ${settings[k]}`)
    .join('\n');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function renderPostgresConf(spec: HomeOpsDatabaseSpec): string {
  const settings = postgresSettings(spec);
  settings[DIGEST_SETTING] = `'${configDigest(spec)}'`;
  const lines = Object.keys(settings)
    .sort()
    .map((k) => `${k} = ${settings[k]}`);
  return `# Written by homeops-operator from the HomeOps guide and spec.postgres.parameters.\n${lines.join('\n')}\n`;
}

/**
 * scram-sha-256 everywhere; the replication user only for replication. With backups, pgBackRest
 * (run in the postgres container, as its OS user) reaches the server over the socket by peer.
 */
export function renderPgHba(backup = false): string {
  return [
    '# Written by homeops-operator: scram-sha-256 everywhere.',
    ...(backup ? ['local   all          postgres                     peer'] : []),
    'local   all          all                          scram-sha-256',
    `host    replication  ${REPLICATION_USER}  0.0.0.0/0  scram-sha-256`,
    `host    replication  ${REPLICATION_USER}  ::/0       scram-sha-256`,
    'host    all          all          0.0.0.0/0       scram-sha-256',
    'host    all          all          ::/0            scram-sha-256',
    '',
  ].join('\n');
}

/**
 * The image contract's lookup of the server binaries, as sh: on PATH, or in
 * /usr/lib/postgresql/<major>/bin (Debian) or /usr/local/pgsql/bin. `tool` is the other binary
 * the script needs beside postgres (initdb on a primary, pg_basebackup on a replica). Exit 78
 * (EX_CONFIG) names what is missing.
 */
export function findServerBinaries(tool: string): string {
  return `# The contract: the server binaries on PATH, or in /usr/lib/postgresql/<major>/bin.
if ! command -v ${tool} >/dev/null 2>&1; then
  for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    if [ -x "$d/${tool}" ]; then PATH="$d:$PATH"; fi
  done
  export PATH
fi
if ! command -v postgres >/dev/null 2>&1 || ! command -v ${tool} >/dev/null 2>&1; then
  echo "homeops: the image has no postgres/${tool} on PATH or in /usr/lib/postgresql/*/bin" >&2
  exit 78
fi
`;
}

/**
 * shared_preload_libraries, as sh: of the libraries asked for, those the image has (a file
 * LIB.so in the server's package lib dir: pg_config's, else <bindir>/../lib, as Debian, the
 * official images and source builds lay it out). A library the image lacks is left out, so the
 * server starts and the operator reports the extension as unavailable instead of a crash loop
 * (PostgreSQL refuses to start with a missing preload library). PRELOAD_ARGS carries both
 * lists to the server: what was asked (PRELOAD_REQUESTED_SETTING) and what was found.
 */
export function preloadScript(libs: string[]): string {
  return `# shared_preload_libraries: those of the requested libraries the image has.
requested='${libs.join(',')}'
bindir=$(dirname "$(command -v postgres)")
libdir=$("$bindir/pg_config" --pkglibdir 2>/dev/null || echo "$bindir/../lib")
preload=
for lib in ${libs.join(' ')}; do
  for d in "$libdir" "$libdir/postgresql"; do
    if [ -f "$d/$lib.so" ]; then preload="\${preload:+$preload,}$lib"; break; fi
  done
done
case ",$preload," in *,timescaledb,*) preload_args="-c timescaledb.telemetry_level=off" ;; *) preload_args= ;; esac
`;
}

/** The postgres arguments preloadScript's variables make (after -D and config_file). */
export const PRELOAD_ARGS = `-c shared_preload_libraries="$preload" -c ${PRELOAD_REQUESTED_SETTING}="$requested" $preload_args`;

/**
 * The postgres container's command, so that no image entrypoint is needed (the image contract
 * in the README): on an empty volume it runs initdb with the superuser password from its
 * Secret, creates the application, replication and pooler auth roles and the lookup function
 * PgBouncer's auth_query calls, then execs postgres. The new cluster is made beside PGDATA and
 * renamed into place only when all of that succeeded, so a start that fails half-way is redone
 * whole at the next start instead of leaving a half-made database. POSIX sh: the contract asks
 * for no bash.
 */
export function renderPostgresStartScript(
  database: string,
  owner: string,
  preload: string[],
  spec?: HomeOpsDatabaseSpec,
  recovery?: RecoveryPlan,
): string {
  return `#!/bin/sh
# Written by homeops-operator: starts PostgreSQL without the image's entrypoint.
set -eu
${findServerBinaries('initdb')}${preloadScript(preload)}${spec ? backupDirsScript(spec) : ''}PGDATA=\${PGDATA:-${DATA_DIR}/pgdata}
conf=${CONFIG_DIR}/postgresql.conf
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  init="$PGDATA.init"
  rm -rf "$init"
${recovery ? restoreScript(recovery, owner) : initdbScript(database, owner)}  mv "$init" "$PGDATA"
  echo "homeops: cluster initialised"
fi
exec postgres -D "$PGDATA" -c config_file="$conf" ${PRELOAD_ARGS}
`;
}

/** The start script's bootstrap of an empty volume by initdb, into "$init". */
function initdbScript(database: string, owner: string): string {
  return `  echo "homeops: initialising a new cluster in $PGDATA"
  initdb -D "$init" --username=postgres --pwfile=${SECRETS_DIR}/superuser/password \\
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --data-checksums >/dev/null
  pg_ctl -D "$init" -o "-c config_file=$conf -c listen_addresses=''" -w -t 120 -l "$init/bootstrap.log" start >/dev/null
  # No password on a command line or in the environment: psql reads the superuser's from a
  # passfile in the memory volume, and the roles' from their files (\\set with a backquoted cat).
  # A separate assignment, so that an unreadable Secret stops the start (set -e).
  umask 077
  PGPASSFILE=/tmp/homeops-bootstrap.pgpass
  password=$(sed 's/[\\\\:]/\\\\&/g' ${SECRETS_DIR}/superuser/password)
  printf '*:*:*:postgres:%s\\n' "$password" > "$PGPASSFILE"
  unset password
  export PGPASSFILE
  psql -X -q -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -U postgres -d postgres -w <<'SQL'
\\set app_password \`cat ${SECRETS_DIR}/app/password\`
\\set repl_password \`cat ${SECRETS_DIR}/replication/password\`
\\set pooler_password \`cat ${SECRETS_DIR}/pooler/password\`
CREATE ROLE ${owner} WITH LOGIN PASSWORD :'app_password';
CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD :'repl_password';
CREATE ROLE ${POOLER_AUTH_USER} WITH LOGIN PASSWORD :'pooler_password';
CREATE DATABASE ${database} OWNER ${owner};
SQL
  psql -X -q -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -U postgres -d ${database} -w <<'SQL'
${POOLER_AUTH_SQL}
SQL
  rm -f "$PGPASSFILE"
  unset PGPASSFILE
  pg_ctl -D "$init" -m fast -w -t 120 stop >/dev/null
  rm -f "$init/bootstrap.log"
`;
}

/** Idempotent: the operator also runs it when it connects, so a restored database gets it too. */
export const POOLER_AUTH_SQL = `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE SCHEMA IF NOT EXISTS pgbouncer AUTHORIZATION postgres;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE (usename name, passwd text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
$$ SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = p_usename $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO ${POOLER_AUTH_USER};
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO ${POOLER_AUTH_USER};`;
