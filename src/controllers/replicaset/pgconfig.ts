/**
 * A replica's start script: the first start makes a base backup from the primary through the
 * member's own replication slot; every later start resumes from the volume. Pure text.
 */
import {
  CONFIG_DIR,
  DATA_DIR,
  POSTGRES_PORT,
  REPLICATION_USER,
  SECRETS_DIR,
} from '../homeopsdatabase/names.ts';
import { findServerBinaries, PRELOAD_ARGS, preloadScript } from '../homeopsdatabase/pgconfig.ts';

/** Written into PGDATA by the base backup, once: its content never changes while the volume lives. */
export const BASE_BACKUP_MARKER = 'homeops-base-backup';

/**
 * POSIX sh. The replication password goes into a passfile in a memory volume (never on a
 * command line or in the environment of postgres). A failed base backup writes its reason to
 * the termination message, where the operator reads it, and exits: the kubelet's crash-loop
 * backoff (10 s doubling to 5 min) paces the retries. `primary_conninfo` names the member by
 * its pod name (`application_name`), which is how the primary's pg_stat_replication row is
 * matched to it.
 */
export function renderReplicaStartScript(primaryHost: string, slotPrefix: string, preload: string[]): string {
  return `#!/bin/sh
# Written by homeops-operator: starts a streaming replica without the image's entrypoint.
set -eu
${findServerBinaries('pg_basebackup')}${preloadScript(preload)}PGDATA=\${PGDATA:-${DATA_DIR}/pgdata}
conf=${CONFIG_DIR}/postgresql.conf
member=\${POD_NAME:?POD_NAME is not set}
slot="${slotPrefix}\${member##*-}"
umask 077
# A separate assignment, so that an unreadable Secret stops the start (set -e).
password=$(cat ${SECRETS_DIR}/replication/password)
PGPASSFILE=/tmp/homeops.pgpass
printf '*:*:*:${REPLICATION_USER}:%s\\n' "$(printf '%s' "$password" | sed 's/[\\\\:]/\\\\&/g')" > "$PGPASSFILE"
unset password
export PGPASSFILE
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  init="$PGDATA.init"
  rm -rf "$init"
  echo "homeops: base backup from ${primaryHost} through slot $slot"
  if ! out=$(pg_basebackup -h ${primaryHost} -p ${POSTGRES_PORT} -U ${REPLICATION_USER} -w -D "$init" \\
      -X stream -S "$slot" --checkpoint=fast 2>&1); then
    printf '%s\\n' "$out" >&2
    printf 'BaseBackupFailed: %s\\n' "$(printf '%s' "$out" | tail -n 2 | tr '\\n' ' ')" > /dev/termination-log || true
    exit 1
  fi
  touch "$init/standby.signal"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$init/${BASE_BACKUP_MARKER}"
  mv "$init" "$PGDATA"
  echo "homeops: base backup done"
else
  echo "homeops: resuming from the volume (base backup of $(cat "$PGDATA/${BASE_BACKUP_MARKER}" 2>/dev/null || echo unknown))"
fi
touch "$PGDATA/standby.signal"
exec postgres -D "$PGDATA" -c config_file="$conf" ${PRELOAD_ARGS} -c primary_slot_name="$slot" \\
  -c primary_conninfo="host=${primaryHost} port=${POSTGRES_PORT} user=${REPLICATION_USER} passfile=$PGPASSFILE application_name=$member"
`;
}
