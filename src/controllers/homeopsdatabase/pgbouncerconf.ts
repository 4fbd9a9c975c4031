/** PgBouncer's files, pure: pgbouncer.ini from spec.pooler and its start script. */
import type { HomeOpsDatabase, HomeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import {
  dbNames,
  POOLER_AUTH_USER,
  POOLER_CONFIG_DIR,
  POOLER_PORT,
  POOLER_RUN_DIR,
  POSTGRES_PORT,
  SECRETS_DIR,
} from './names.ts';

/** PgBouncer's files, by their path in its pod (the key in the ConfigMap is `pgbouncer-` + path). */
export function poolerFiles(db: HomeOpsDatabase): Record<string, string> {
  return {
    'pgbouncer.ini': renderPgBouncerIni(db.spec, serviceHost(db, dbNames(db).rwService)),
    'start.sh': renderPgBouncerStartScript(),
  };
}
export const POOLER_KEY_PREFIX = 'pgbouncer-';

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
    `auth_file = ${POOLER_RUN_DIR}/userlist.txt`,
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
 * PgBouncer's command: writes the userlist (only the auth user's own password, from its
 * Secret) into a memory volume, then execs pgbouncer.
 */
export function renderPgBouncerStartScript(): string {
  return `#!/bin/sh
# Written by homeops-operator: starts PgBouncer without the image's entrypoint.
set -eu
if ! command -v pgbouncer >/dev/null 2>&1; then PATH="$PATH:/usr/sbin:/usr/local/bin"; fi
umask 077
# A separate assignment, so that an unreadable Secret stops the start (set -e) instead of
# writing an empty password.
password=$(cat ${SECRETS_DIR}/pooler/password)
printf '"%s" "%s"\\n' '${POOLER_AUTH_USER}' "$password" > ${POOLER_RUN_DIR}/userlist.txt
exec pgbouncer ${POOLER_CONFIG_DIR}/pgbouncer.ini
`;
}
