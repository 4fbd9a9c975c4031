/**
 * The text of postgresql.conf, pg_hba.conf and pgbouncer.ini from a spec: the guide's settings,
 * merged with the user's parameters (the API refuses the keys the operator owns). Pure.
 */
import type { HomeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { POOLER_AUTH_USER, POOLER_PORT, POSTGRES_PORT, REPLICATION_USER } from './names.ts';

/** The guide's postgresql.conf for a primary, before the user's parameters. */
export function guidePostgresSettings(timescale: boolean): Record<string, string> {
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
    shared_preload_libraries: timescale ? "'pg_stat_statements,timescaledb'" : "'pg_stat_statements'",
    'pg_stat_statements.track': "'all'",
    unix_socket_directories: "'/var/run/postgresql'",
    hba_file: "'/etc/homeops/pg_hba.conf'",
  };
}

/** A user value as a postgresql.conf literal: numbers and bare words as they are, else quoted. */
export function confValue(v: string): string {
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(v) || /^(on|off|true|false)$/i.test(v)) return v;
  if (/^'.*'$/.test(v)) return v;
  return `'${v.replaceAll("'", "''")}'`;
}

export function renderPostgresConf(spec: HomeOpsDatabaseSpec, timescale: boolean): string {
  const settings: Record<string, string> = guidePostgresSettings(timescale);
  for (const [k, v] of Object.entries(spec.postgres.parameters)) settings[k] = confValue(v);
  const lines = Object.keys(settings)
    .sort()
    .map((k) => `${k} = ${settings[k]}`);
  return `# Written by homeops-operator from the HomeOps guide and spec.postgres.parameters.\n${lines.join('\n')}\n`;
}

/** scram-sha-256 everywhere; the replication user only for replication. */
export function renderPgHba(): string {
  return [
    '# Written by homeops-operator: scram-sha-256 everywhere.',
    'local   all          all                          scram-sha-256',
    `host    replication  ${REPLICATION_USER}  0.0.0.0/0  scram-sha-256`,
    `host    replication  ${REPLICATION_USER}  ::/0       scram-sha-256`,
    'host    all          all          0.0.0.0/0       scram-sha-256',
    'host    all          all          ::/0            scram-sha-256',
    '',
  ].join('\n');
}

/** The guide's pgbouncer.ini from spec.pooler, authenticating through auth_query. */
export function renderPgBouncerIni(spec: HomeOpsDatabaseSpec, primaryHost: string): string {
  const p = spec.pooler;
  return [
    '; Written by homeops-operator from spec.pooler (defaults: the HomeOps guide).',
    '[databases]',
    `* = host=${primaryHost} port=${POSTGRES_PORT}`,
    '',
    '[pgbouncer]',
    'listen_addr = *',
    `listen_port = ${POOLER_PORT}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    'auth_file = /etc/pgbouncer-auth/userlist.txt',
    `auth_user = ${POOLER_AUTH_USER}`,
    'auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)',
    `stats_users = ${POOLER_AUTH_USER}`,
    `pool_mode = ${p.poolMode}`,
    `max_client_conn = ${p.maxClientConn}`,
    `default_pool_size = ${p.defaultPoolSize}`,
    `min_pool_size = ${p.minPoolSize}`,
    `reserve_pool_size = ${p.reservePoolSize}`,
    `reserve_pool_timeout = ${p.reservePoolTimeoutSeconds}`,
    `max_db_connections = ${p.maxDbConnections}`,
    `max_user_connections = ${p.maxUserConnections}`,
    'server_round_robin = 1',
    'ignore_startup_parameters = extra_float_digits',
    'stats_period = 60',
    'log_connections = 1',
    'log_disconnections = 1',
    '',
  ].join('\n');
}

/**
 * Run once by the image's entrypoint at initdb: the application, replication and pooler auth
 * roles, their passwords from the mounted Secrets, and the SECURITY DEFINER lookup function
 * PgBouncer's auth_query calls (so PgBouncer never holds a userlist of every password).
 */
export function renderBootstrapScript(database: string, owner: string): string {
  return `#!/bin/bash
# Written by homeops-operator. Runs once, when the image's entrypoint initialises PGDATA.
set -euo pipefail
app_password=$(cat /etc/homeops/secrets/app/password)
repl_password=$(cat /etc/homeops/secrets/replication/password)
pooler_password=$(cat /etc/homeops/secrets/pooler/password)
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \\
  -v app_password="$app_password" -v repl_password="$repl_password" -v pooler_password="$pooler_password" <<'SQL'
CREATE ROLE ${owner} WITH LOGIN PASSWORD :'app_password';
CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD :'repl_password';
CREATE ROLE ${POOLER_AUTH_USER} WITH LOGIN PASSWORD :'pooler_password';
CREATE DATABASE ${database} OWNER ${owner};
SQL
psql -v ON_ERROR_STOP=1 --username postgres --dbname ${database} <<'SQL'
${POOLER_AUTH_SQL}
SQL
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
