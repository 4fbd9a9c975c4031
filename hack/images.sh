#!/usr/bin/env bash
# Container images for the real node, built on this machine from Debian packages: no Docker
# engine and no registry. Each image is one layer (a rootfs made by mmdebstrap, or by hand for
# pause and the operator), written as an OCI archive and cached under
# $HOMEOPS_CACHE/images/<name>-<key>.tar, the key a hash of the image's inputs (this script,
# its package list, and for the operator its sources).
#
#   hack/images.sh build [NAME...]       build what is missing; prints NAME=REFERENCE lines
#   hack/images.sh import SOCKET [NAME...] build, then import into containerd (namespace k8s.io)
#                                          unless the same image is already there
#   hack/images.sh ref NAME              the reference of one image
#
# Images: pause, postgres, postgres15, pgbouncer, redis, operator (all by default).
# postgres is PostgreSQL 17 from Debian trixie with TimescaleDB (Debian's Apache-2 build),
# pgvector and pgBackRest; postgres15 is bookworm's PostgreSQL 15, so that the image contract is
# proven on two majors. The others are bookworm. The Debian packages are whatever the suite
# (with its updates and security suites) serves on the day of the build: nothing is pinned to a
# snapshot. The versions installed are recorded in each image's label homeops.io/packages and
# printed by `build`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGE_DIR=$HOMEOPS_CACHE/images
ALL=(pause postgres postgres15 pgbouncer redis operator)
OPERATOR_VERSION=$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' "$REPO_DIR/package.json")
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The Debian suite an image is made from, and its mirrors.
suite_of() { case $1 in postgres) echo trixie ;; *) echo bookworm ;; esac; }
mirrors_of() {
  local suite; suite=$(suite_of "$1")
  printf '%s\n' "deb http://deb.debian.org/debian $suite main" \
    "deb http://deb.debian.org/debian $suite-updates main" \
    "deb http://deb.debian.org/debian-security $suite-security main"
}
# The PostgreSQL major of a server image (its binaries go on PATH).
pg_major() { case $1 in postgres) echo 17 ;; postgres15) echo 15 ;; esac; }

# The image contract, per image: reference, packages, user, PATH.
ref() {
  case $1 in
    pause) echo localhost/homeops/pause:3.10 ;;
    postgres) echo localhost/homeops/postgres:17 ;;
    postgres15) echo localhost/homeops/postgres:15 ;;
    pgbouncer) echo localhost/homeops/pgbouncer:1 ;;
    redis) echo localhost/homeops/redis:7 ;;
    operator) echo "localhost/homeops/operator:$OPERATOR_VERSION" ;;
    *) die "unknown image $1 (one of: ${ALL[*]})" ;;
  esac
}
packages() {
  case $1 in
    # contrib (pg_stat_statements) is part of postgresql-NN; pgBackRest for the backups to come
    postgres) echo postgresql-17 postgresql-17-timescaledb postgresql-17-pgvector pgbackrest ;;
    postgres15) echo postgresql-15 ;;
    pgbouncer) echo pgbouncer ;;
    redis) echo redis-server redis-tools ;;
    operator) echo ca-certificates ;;
  esac
}
# The user each image runs as, made before any package so the packages' own scripts reuse it:
# the uids of the public images the operator also supports (postgres:15 and redis:7 use 999,
# CloudNativePG's pgbouncer 998; the operator's Dockerfile 1000).
user_of() {
  case $1 in
    postgres | postgres15) echo "postgres 999 /var/lib/postgresql" ;;
    pgbouncer) echo "pgbouncer 998 /var/lib/pgbouncer" ;;
    redis) echo "redis 999 /var/lib/redis" ;;
    operator) echo "homeops 1000 /app" ;;
    pause) echo "" ;;
  esac
}

# The key: the recipe of this one image (the functions that make it, as bash prints them, so
# comments and unrelated edits of this file do not rebuild anything) and its inputs.
key_of() {
  local name=$1 maker=rootfs_debian
  case $name in pause) maker=rootfs_pause ;; operator) maker="rootfs_operator rootfs_debian" ;; esac
  {
    declare -f $maker oci_archive ref packages user_of suite_of mirrors_of pg_major
    echo "$STD_PATH"
    echo "$name $(packages "$name")"
    if [ "$name" = operator ]; then
      cat "$REPO_DIR/package.json" "$REPO_DIR/package-lock.json"
      find "$REPO_DIR/src" "$REPO_DIR/crds" "$REPO_DIR/sql" -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 cat
    fi
  } | sha256sum | cut -c1-12
}
archive_of() { echo "$IMAGE_DIR/$1-$(key_of "$1").tar"; }

# rootfs_debian NAME OUT.tar: a minimal Debian with the image's packages, docs and locales left out.
rootfs_debian() {
  local name=$1 out=$2 user uid home
  read -r user uid home <<<"$(user_of "$name")"
  local mirrors=(); while IFS= read -r m; do mirrors+=("$m"); done < <(mirrors_of "$name")
  # shellcheck disable=SC2016
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --include="$(packages "$name" | tr ' ' ',')" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook="echo '$user:x:$uid:$uid::$home:/bin/sh' >> \"\$1/etc/passwd\" && echo '$user:x:$uid:' >> \"\$1/etc/group\"" \
    --customize-hook="chroot \"\$1\" dpkg-query -W -f '\${Package}=\${Version}\n' > \"$out.packages\"" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    "$(suite_of "$name")" "$out" "${mirrors[@]}"
}

# rootfs_pause OUT.tar: a static binary that sleeps until a signal, the pod sandbox's process.
rootfs_pause() {
  local out=$1 dir; dir=$(mktemp -d)
  cat > "$dir/pause.c" <<'C'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void die(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGINT, die); signal(SIGTERM, die); signal(SIGCHLD, reap);
  for (;;) pause();
}
C
  mkdir -p "$dir/root"
  gcc -static -Os -s -o "$dir/root/pause" "$dir/pause.c"
  tar -C "$dir/root" --owner=0 --group=0 -cf "$out" .
  echo "pause=static" > "$out.packages"
  rm -rf "$dir"
}

# rootfs_operator OUT.tar: Debian minbase + Node 24 (from the npm `node` package the project
# already installs) + dist/, production node_modules, crds/ and sql/: what the Dockerfile copies.
rootfs_operator() {
  local out=$1 dir; dir=$(mktemp -d)
  rootfs_debian operator "$dir/base.tar"
  mkdir -p "$dir/root/app" "$dir/root/usr/local/bin"
  tar -C "$dir/root" -xf "$dir/base.tar"
  local node; node=$(cd "$REPO_DIR" && npx --no-install node -e 'process.stdout.write(process.execPath)')
  cp "$node" "$dir/root/usr/local/bin/node"
  (cd "$REPO_DIR" && npx --no-install tsc -p tsconfig.build.json --outDir "$dir/root/app/dist")
  cp -r "$REPO_DIR/package.json" "$REPO_DIR/package-lock.json" "$REPO_DIR/crds" "$REPO_DIR/sql" "$dir/root/app/"
  (cd "$dir/root/app" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  rm -f "$dir/root/app/package-lock.json"
  tar -C "$dir/root" --numeric-owner -cf "$out" .
  mv "$dir/base.tar.packages" "$out.packages"
  echo "node=$("$dir/root/usr/local/bin/node" --version)" >> "$out.packages"
  rm -rf "$dir"
}

# oci_archive NAME LAYER.tar OUT.tar: one uncompressed layer, its config and manifest, as an OCI
# image layout in a tar, named with the reference for `ctr images import`.
oci_archive() {
  local name=$1 layer=$2 out=$3 dir; dir=$(mktemp -d)
  local reference; reference=$(ref "$name")
  mkdir -p "$dir/blobs/sha256"
  local layer_sha; layer_sha=$(sha256sum "$layer" | cut -d' ' -f1)
  local layer_size; layer_size=$(stat -c %s "$layer")
  mv "$layer" "$dir/blobs/sha256/$layer_sha"
  local user path=$STD_PATH cmd='"/bin/sh"' entry='' wd=/ stop=SIGTERM
  user=$(user_of "$name" | cut -d' ' -f2)
  case $name in
    pause) cmd='"/pause"' ;;
    postgres | postgres15) # fast shutdown, as postgres:15 has
      path=/usr/lib/postgresql/$(pg_major "$name")/bin:$STD_PATH; cmd='"postgres"'; stop=SIGINT ;;
    pgbouncer) cmd='"pgbouncer"' ;;
    redis) cmd='"redis-server"' ;;
    operator) cmd=''; entry='"node","--max-semi-space-size=8","/app/dist/main.js"'; wd=/app ;; # as the Dockerfile's ENTRYPOINT
  esac
  local pkgs; pkgs=$(tr '\n' ' ' < "$layer.packages" | sed 's/ $//')
  cat > "$dir/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=$path"${name:+,\"HOMEOPS_IMAGE=$name\"}],${entry:+\"Entrypoint\":[$entry],}${cmd:+\"Cmd\":[$cmd],}"WorkingDir":"$wd","StopSignal":"$stop"${user:+,\"User\":\"$user\"},
   "Labels":{"org.opencontainers.image.title":"homeops $name","homeops.io/packages":"$pkgs"}},
 "rootfs":{"type":"layers","diff_ids":["sha256:$layer_sha"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/images.sh $name"}]}
JSON
  local cfg_sha cfg_size
  cfg_sha=$(sha256sum "$dir/config.json" | cut -d' ' -f1); cfg_size=$(stat -c %s "$dir/config.json")
  mv "$dir/config.json" "$dir/blobs/sha256/$cfg_sha"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg_sha" "$cfg_size" "$layer_sha" "$layer_size" > "$dir/manifest.json"
  local man_sha man_size
  man_sha=$(sha256sum "$dir/manifest.json" | cut -d' ' -f1); man_size=$(stat -c %s "$dir/manifest.json")
  mv "$dir/manifest.json" "$dir/blobs/sha256/$man_sha"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man_sha" "$man_size" "$reference" "$reference" > "$dir/index.json"
  tar -C "$dir" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  echo "$man_sha" > "$out.digest"
  rm -rf "$dir" "$layer.packages"
}

build_one() {
  local name=$1 out; out=$(archive_of "$name")
  [ -f "$out" ] && return 0
  mkdir -p "$IMAGE_DIR"
  log "building image $name ($(ref "$name")) into $out"
  local start=$SECONDS layer="$IMAGE_DIR/$name.layer.tar"
  rm -f "$layer" "$layer.packages"
  case $name in
    pause) rootfs_pause "$layer" ;;
    operator) rootfs_operator "$layer" ;;
    *) rootfs_debian "$name" "$layer" ;;
  esac
  oci_archive "$name" "$layer" "$out"
  # Older builds of the same image are dropped: the cache keeps one per name.
  find "$IMAGE_DIR" -maxdepth 1 -name "$name-*.tar*" ! -name "$(basename "$out")*" -delete
  log "built image $name in $((SECONDS - start))s ($(du -m "$out" | cut -f1) MiB)"
}

import_one() { # import_one SOCKET NAME: skips an image containerd already holds at this digest
  local sock=$1 name=$2 out; out=$(archive_of "$name")
  local reference digest; reference=$(ref "$name"); digest=$(cat "$out.digest")
  if ctr -a "$sock" -n k8s.io images ls -q "name==$reference" 2>/dev/null | grep . >/dev/null &&
    ctr -a "$sock" -n k8s.io images ls "name==$reference" | grep "sha256:$digest" >/dev/null; then
    return 0
  fi
  log "importing $reference"
  ctr -a "$sock" -n k8s.io images import --no-unpack=false "$out" >/dev/null
  # The kubelet never pulls these (there is no registry) and must never collect them.
  ctr -a "$sock" -n k8s.io images label "$reference" io.cri-containerd.pinned=pinned >/dev/null
}

cmd=${1:-build}; shift || true
case $cmd in
  build)
    names=("${@:-${ALL[@]}}"); [ $# -gt 0 ] || names=("${ALL[@]}")
    for n in "${names[@]}"; do build_one "$n"; done
    for n in "${names[@]}"; do echo "$n=$(ref "$n")"; done
    ;;
  import)
    sock=${1:?usage: $0 import SOCKET [NAME...]}; shift
    names=("$@"); [ $# -gt 0 ] || names=("${ALL[@]}")
    for n in "${names[@]}"; do build_one "$n"; import_one "$sock" "$n"; done
    ;;
  ref) ref "${1:?usage: $0 ref NAME}" ;;
  *) echo "usage: $0 build [NAME...] | import SOCKET [NAME...] | ref NAME" >&2; exit 2 ;;
esac
