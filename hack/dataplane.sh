#!/usr/bin/env bash
# The local data plane: real PostgreSQL 15 (a primary and a streaming replica made with
# pg_basebackup), PgBouncer in front of the primary, and Redis, all from Debian packages, on
# loopback, under $HOMEOPS_RUN/dataplane, as non-root users, with generated passwords; and the
# S3 object store of hack/s3.sh (SeaweedFS, HTTPS on 198.18.1.1).
#
#   hack/dataplane.sh install   apt-get the packages (needs root; once per machine), the real
#                               node's too (containerd, runc, CNI plugins, iptables, mmdebstrap)
#   hack/dataplane.sh up        start everything (idempotent), then print the env file's path
#   hack/dataplane.sh env       print the connection settings as shell exports
#   hack/dataplane.sh down      stop everything and delete the data
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DP_DIR=$HOMEOPS_RUN/dataplane
ENV_FILE=$DP_DIR/env
PG_PORT=${HOMEOPS_PG_PORT:-55432}
REPLICA_PORT=${HOMEOPS_PG_REPLICA_PORT:-55433}
BOUNCER_PORT=${HOMEOPS_PGBOUNCER_PORT:-56432}
REDIS_PORT=${HOMEOPS_REDIS_PORT:-56379}
PG_USER=postgres     # the OS user PostgreSQL and PgBouncer run as (initdb refuses root)
REDIS_USER=redis

APT_PACKAGES=(postgresql-15 pgbouncer redis-server openssl curl
  # the real node (hack/node.sh) and its images (hack/images.sh)
  containerd runc containernetworking-plugins iptables conntrack inotify-tools mmdebstrap)

install() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi; }
secret() { openssl rand -hex 24; }   # CSPRNG; hex needs no quoting in conf files or URIs

pg_running() { as_pg "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

psql_primary() {
  PGPASSWORD=$POSTGRES_PASSWORD "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

write_env() {
  umask 077
  cat > "$ENV_FILE" <<ENV
HOMEOPS_PG_HOST=127.0.0.1
HOMEOPS_PG_PORT=$PG_PORT
HOMEOPS_PG_REPLICA_PORT=$REPLICA_PORT
HOMEOPS_PG_SUPERUSER=postgres
HOMEOPS_PG_SUPERUSER_PASSWORD=$POSTGRES_PASSWORD
HOMEOPS_PG_DATABASE=homeops
HOMEOPS_PG_APP_USER=homeops
HOMEOPS_PG_APP_PASSWORD=$APP_PASSWORD
HOMEOPS_PG_REPLICATION_USER=replicator
HOMEOPS_PG_REPLICATION_PASSWORD=$REPL_PASSWORD
HOMEOPS_PG_REPLICATION_SLOT=replica1
HOMEOPS_PGBOUNCER_PORT=$BOUNCER_PORT
HOMEOPS_PGBOUNCER_AUTH_USER=pgbouncer_auth
HOMEOPS_PGBOUNCER_AUTH_PASSWORD=$BOUNCER_PASSWORD
HOMEOPS_REDIS_HOST=127.0.0.1
HOMEOPS_REDIS_PORT=$REDIS_PORT
HOMEOPS_REDIS_PASSWORD=$REDIS_PASSWORD
ENV
}

load_secrets() {
  if [ -f "$DP_DIR/secrets" ]; then source "$DP_DIR/secrets"; return; fi
  POSTGRES_PASSWORD=$(secret) APP_PASSWORD=$(secret) REPL_PASSWORD=$(secret)
  BOUNCER_PASSWORD=$(secret) REDIS_PASSWORD=$(secret)
  (umask 077; for v in POSTGRES_PASSWORD APP_PASSWORD REPL_PASSWORD BOUNCER_PASSWORD REDIS_PASSWORD; do
    echo "$v=${!v}"; done > "$DP_DIR/secrets")
}

# The guide's postgresql.conf for a primary, on loopback.
primary_conf() {
  cat <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DP_DIR/sock'
password_encryption = 'scram-sha-256'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '256MB'
hot_standby = on
max_standby_streaming_delay = 30s
hot_standby_feedback = on
track_io_timing = on
log_min_duration_statement = 100
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
max_connections = 100
shared_buffers = 128MB
fsync = on
logging_collector = off
CONF
}

start_primary() {
  local data=$DP_DIR/primary
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initdb primary"
    local pwfile=$DP_DIR/pwfile
    (umask 077; echo "$POSTGRES_PASSWORD" > "$pwfile"); chown "$PG_USER" "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    primary_conf | as_pg tee -a "$data/postgresql.conf" >/dev/null
    as_pg tee "$data/pg_hba.conf" >/dev/null <<HBA
local   all          all                    scram-sha-256
host    all          all        127.0.0.1/32 scram-sha-256
host    replication  replicator 127.0.0.1/32 scram-sha-256
HBA
  fi
  pg_running "$data" || as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$DP_DIR/primary.log" -w -t 60 start >/dev/null
  if [ ! -f "$DP_DIR/.primary-bootstrapped" ]; then
    log "bootstrap roles, database and the pooler's auth function"
    psql_primary >/dev/null <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '$REPL_PASSWORD';
CREATE ROLE homeops WITH LOGIN PASSWORD '$APP_PASSWORD';
CREATE ROLE pgbouncer_auth WITH LOGIN PASSWORD '$BOUNCER_PASSWORD';
CREATE DATABASE homeops OWNER homeops;
SELECT 1 FROM pg_create_physical_replication_slot('replica1');
SQL
    psql_primary -d homeops <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
-- PgBouncer looks passwords up through this function instead of a userlist of every password:
-- it runs with the owner's rights and returns one user's SCRAM secret (as CloudNativePG does).
CREATE SCHEMA pgbouncer AUTHORIZATION postgres;
CREATE FUNCTION pgbouncer.get_auth(p_usename text) RETURNS TABLE (usename name, passwd text)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS
$$ SELECT usename, passwd FROM pg_catalog.pg_shadow WHERE usename = p_usename $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO pgbouncer_auth;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer_auth;
SQL
    touch "$DP_DIR/.primary-bootstrapped"
  fi
}

start_replica() {
  local data=$DP_DIR/replica
  if [ ! -f "$data/PG_VERSION" ]; then
    log "pg_basebackup the streaming replica"
    as_pg env PGPASSWORD="$REPL_PASSWORD" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U replicator \
      -D "$data" -X stream -c fast -S replica1 -R >/dev/null
    as_pg tee -a "$data/postgresql.conf" >/dev/null <<CONF
port = $REPLICA_PORT
CONF
  fi
  pg_running "$data" || as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$DP_DIR/replica.log" -w -t 60 start >/dev/null
}

# The guide's pgbouncer.ini, with auth_query instead of a userlist of every password.
start_pgbouncer() {
  local dir=$DP_DIR/pgbouncer
  mkdir -p "$dir"; chown "$PG_USER" "$dir"
  as_pg tee "$dir/userlist.txt" >/dev/null <<USERS
"pgbouncer_auth" "$BOUNCER_PASSWORD"
USERS
  chmod 600 "$dir/userlist.txt"
  as_pg tee "$dir/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
auth_user = pgbouncer_auth
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth(\$1)
stats_users = pgbouncer_auth
pool_mode = transaction
max_client_conn = 100
default_pool_size = 20
min_pool_size = 5
reserve_pool_size = 5
reserve_pool_timeout = 10
max_db_connections = 50
max_user_connections = 30
server_round_robin = 1
ignore_startup_parameters = extra_float_digits
stats_period = 60
log_connections = 1
log_disconnections = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  if [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null; then return; fi
  as_pg pgbouncer -d -q "$dir/pgbouncer.ini"
}

# The guide's redis.conf, on loopback, with a generated password.
start_redis() {
  local dir=$DP_DIR/redis
  mkdir -p "$dir"; chown "$REDIS_USER" "$dir"; chmod 700 "$dir"
  cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
requirepass $REDIS_PASSWORD
maxmemory 2gb
maxmemory-policy allkeys-lru
timeout 300
tcp-keepalive 60
appendonly yes
appendfsync everysec
auto-aof-rewrite-percentage 100
auto-aof-rewrite-min-size 64mb
hash-max-ziplist-entries 512
hash-max-ziplist-value 64
list-max-ziplist-size -2
set-max-intset-entries 512
CONF
  chown "$REDIS_USER" "$dir/redis.conf"; chmod 600 "$dir/redis.conf"
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then return; fi
  if [ "$(id -u)" = 0 ]; then runuser -u "$REDIS_USER" -- redis-server "$dir/redis.conf"; else redis-server "$dir/redis.conf"; fi
}

up() {
  command -v pgbouncer >/dev/null && [ -x "$PG_BIN/initdb" ] && command -v redis-server >/dev/null \
    || die "PostgreSQL 15, PgBouncer or Redis is missing: run hack/dataplane.sh install"
  reserve_ports "$PG_PORT" "$REPLICA_PORT" "$BOUNCER_PORT" "$REDIS_PORT"
  mkdir -p "$DP_DIR/sock"
  chown "$PG_USER" "$DP_DIR" "$DP_DIR/sock"; chmod 711 "$DP_DIR"
  if [ "$(id -u)" = 0 ] && ! runuser -u "$PG_USER" -- test -x "$DP_DIR"; then
    die "$PG_USER cannot reach $DP_DIR: make every folder above it traversable (chmod o+x) or set HOMEOPS_RUN"
  fi
  load_secrets
  start_primary
  start_replica
  start_pgbouncer
  start_redis
  write_env
  # The S3 object store (hack/s3.sh): its coordinates join the data plane's.
  cat "$(bash "$HACK_DIR/s3.sh" up | tail -n1)" >> "$ENV_FILE"
  wait_for "PgBouncer on $BOUNCER_PORT" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BOUNCER_PORT"
  wait_for "Redis on $REDIS_PORT" 30 redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping
  wait_for "the replica to stream" 60 bash -c \
    "[ \"\$(PGPASSWORD=$POSTGRES_PASSWORD $PG_BIN/psql -XAtq -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c \"select count(*) from pg_stat_replication where state = 'streaming'\")\" = 1 ]"
  log "data plane up: primary :$PG_PORT, replica :$REPLICA_PORT, pgbouncer :$BOUNCER_PORT, redis :$REDIS_PORT"
  echo "$ENV_FILE"
}

down() {
  bash "$HACK_DIR/s3.sh" down
  [ -d "$DP_DIR" ] || return 0
  for d in replica primary; do
    [ -f "$DP_DIR/$d/PG_VERSION" ] && pg_running "$DP_DIR/$d" && as_pg "$PG_BIN/pg_ctl" -D "$DP_DIR/$d" -m fast -w stop >/dev/null || true
  done
  for pidfile in "$DP_DIR/pgbouncer/pgbouncer.pid" "$DP_DIR/redis/redis.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$DP_DIR"
  log "data plane down"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  env) [ -f "$ENV_FILE" ] || die "the data plane is not up"; sed 's/^/export /' "$ENV_FILE" ;;
  down) down ;;
  stop-primary) as_pg "$PG_BIN/pg_ctl" -D "$DP_DIR/primary" -m fast -w stop >/dev/null ;;  # tests: an outage
  start-primary) as_pg "$PG_BIN/pg_ctl" -D "$DP_DIR/primary" -l "$DP_DIR/primary.log" -w -t 60 start >/dev/null ;;
  stop-pooler)  # tests: a pooler outage
    pid=$(cat "$DP_DIR/pgbouncer/pgbouncer.pid"); kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done ;;
  start-pooler)
    as_pg pgbouncer -d -q "$DP_DIR/pgbouncer/pgbouncer.ini"
    wait_for "PgBouncer on $BOUNCER_PORT" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$BOUNCER_PORT" ;;
  stop-s3) bash "$HACK_DIR/s3.sh" stop ;;  # tests: an unreachable object store
  start-s3) bash "$HACK_DIR/s3.sh" start ;;
  *) echo "usage: $0 install|up|env|down|stop-primary|start-primary|stop-pooler|start-pooler|stop-s3|start-s3" >&2; exit 2 ;;
esac
