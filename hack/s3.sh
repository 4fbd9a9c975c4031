#!/usr/bin/env bash
# The S3 object store the backups' S3 repository is tested against: SeaweedFS's weed (built from
# its Go module by hack/build-tools.sh), master, volume, filer and S3 gateway in one process, on
# an address of this machine's loopback (198.18.1.1, inside the test range) that the real node's
# pods reach through their default route. HTTPS only, with a certificate of a CA this script
# makes; two identities with generated keys (a second one for the credentials-rotation tests);
# one bucket, made here (the gateway creates none by itself). No telemetry: nothing is sent off
# the machine.
#
#   hack/s3.sh up      start it (idempotent), then print the env file's path
#   hack/s3.sh env     print its coordinates as KEY=VALUE lines (fails when it is down)
#   hack/s3.sh stop    stop the server, keeping its data (the faults tests: an unreachable store)
#   hack/s3.sh start   start it again on the same data
#   hack/s3.sh down    stop it and delete the data
set -euo pipefail
source "$(dirname "$0")/lib.sh"

S3_DIR=$HOMEOPS_RUN/s3
ENV_FILE=$S3_DIR/env
S3_PORT=${HOMEOPS_S3_PORT:-18333}
# The gateway's companions, on the same address: master, volume and filer (HTTP and gRPC).
MASTER_PORT=19333 VOLUME_PORT=18080 FILER_PORT=18888
BUCKET=homeops

weed_bin() { local b; b=$(tool_dir seaweedfs)/weed; [ -x "$b" ] || bash "$HACK_DIR/build-tools.sh" seaweedfs >/dev/null; echo "$b"; }
pid_alive() { [ -f "$S3_DIR/weed.pid" ] && kill -0 "$(cat "$S3_DIR/weed.pid")" 2>/dev/null; }
key() { openssl rand -hex "$1"; }   # CSPRNG

address() {
  ip -4 addr show dev lo | grep -q "inet $S3_IP/32" || ip addr add "$S3_IP/32" dev lo
}

certs() {
  [ -f "$S3_DIR/tls/server.crt" ] && return 0
  mkdir -p "$S3_DIR/tls" && chmod 700 "$S3_DIR/tls"
  (cd "$S3_DIR/tls" &&
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=homeops test S3 CA" \
      -keyout ca.key -out ca.crt 2>/dev/null &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$S3_IP" -keyout server.key -out server.csr 2>/dev/null &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$S3_IP") -out server.crt 2>/dev/null)
}

identities() {
  [ -f "$S3_DIR/keys" ] && return 0
  (umask 077
    echo "S3_ACCESS_KEY=$(key 10) S3_SECRET_KEY=$(key 20) S3_ACCESS_KEY_2=$(key 10) S3_SECRET_KEY_2=$(key 20)" |
      tr ' ' '\n' > "$S3_DIR/keys")
  # shellcheck disable=SC1091
  source "$S3_DIR/keys"
  local actions='["Read","Write","List","Tagging","Admin"]'
  (umask 077; cat > "$S3_DIR/s3.json" <<JSON
{"identities": [
  {"name": "homeops", "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}], "actions": $actions},
  {"name": "homeops-2", "credentials": [{"accessKey": "$S3_ACCESS_KEY_2", "secretKey": "$S3_SECRET_KEY_2"}], "actions": $actions}
]}
JSON
  )
}

curl_s3() {
  # shellcheck disable=SC1091
  source "$S3_DIR/keys"
  curl -sS --fail --max-time 10 --cacert "$S3_DIR/tls/ca.crt" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" "$@"
}

start() {
  pid_alive && return 0
  address
  local weed; weed=$(weed_bin)
  mkdir -p "$S3_DIR/data"
  log "starting SeaweedFS S3 on https://$S3_IP:$S3_PORT"
  # Volumes are files of up to 256 MB, grown a few at a time per collection and not
  # preallocated: 64 slots leave room for the bucket's collection after the filer's own (with 4,
  # the filer took them all at start and every upload failed: "No writable volumes").
  reserve_ports "$S3_PORT" "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT" \
    $((MASTER_PORT + 10000)) $((VOLUME_PORT + 10000)) $((FILER_PORT + 10000))
  setsid "$weed" server -ip="$S3_IP" -ip.bind="$S3_IP" -dir="$S3_DIR/data" \
    -master.port="$MASTER_PORT" -volume.port="$VOLUME_PORT" -volume.max=64 \
    -master.volumeSizeLimitMB=256 -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/ \
    -filer -filer.port="$FILER_PORT" \
    -s3 -s3.port="$S3_PORT" -s3.config="$S3_DIR/s3.json" -s3.autoCreateBucket=false \
    -s3.cert.file="$S3_DIR/tls/server.crt" -s3.key.file="$S3_DIR/tls/server.key" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false -s3.localSocket="$S3_DIR/s3.sock" \
    >"$S3_DIR/weed.log" 2>&1 < /dev/null &
  echo $! > "$S3_DIR/weed.pid"
  wait_for "the S3 gateway" 90 curl_s3 -o /dev/null "https://$S3_IP:$S3_PORT/" ||
    { tail -n 30 "$S3_DIR/weed.log" >&2; exit 1; }
}

stop() {
  pid_alive || return 0
  local pid; pid=$(cat "$S3_DIR/weed.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$S3_DIR/weed.pid"
}

write_env() {
  # shellcheck disable=SC1091
  source "$S3_DIR/keys"
  (umask 077; cat > "$ENV_FILE" <<ENV
HOMEOPS_S3_ENDPOINT=$S3_IP:$S3_PORT
HOMEOPS_S3_BUCKET=$BUCKET
HOMEOPS_S3_CA_FILE=$S3_DIR/tls/ca.crt
HOMEOPS_S3_ACCESS_KEY=$S3_ACCESS_KEY
HOMEOPS_S3_SECRET_KEY=$S3_SECRET_KEY
HOMEOPS_S3_ACCESS_KEY_2=$S3_ACCESS_KEY_2
HOMEOPS_S3_SECRET_KEY_2=$S3_SECRET_KEY_2
ENV
  )
}

case ${1:-} in
  up)
    mkdir -p "$S3_DIR" && chmod 700 "$S3_DIR"
    certs
    identities
    start
    curl_s3 -o /dev/null "https://$S3_IP:$S3_PORT/$BUCKET" 2>/dev/null ||
      curl_s3 -o /dev/null -X PUT "https://$S3_IP:$S3_PORT/$BUCKET"
    write_env
    echo "$ENV_FILE"
    ;;
  env) pid_alive && cat "$ENV_FILE" ;;
  stop) stop ;;
  start) start ;;
  down)
    stop
    rm -rf "$S3_DIR"
    ip addr del "$S3_IP/32" dev lo 2>/dev/null || true
    ;;
  *) echo "usage: $0 up|env|stop|start|down" >&2; exit 2 ;;
esac
