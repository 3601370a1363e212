#!/usr/bin/env bash
# Builds and runs images daemonless, with buildah 1.39 (chroot isolation, host network) from the
# builder chroot scripts/dockerbuild/setup.sh made.
#   image.sh build CONTEXT DOCKERFILE TARGET TAG [BUILDAH-BUD-ARG...]
#       builds CONTEXT/DOCKERFILE up to TARGET ("" = the last stage) as TAG (localhost/...);
#       one build at a time on this machine (flock $DOCKERBUILD_ROOT/build.lock).
#   image.sh run TAG [--env K=V | --add-host H:IP | --workingdir DIR | --volume HOSTDIR:DIR]... -- [ARGV...]
#       runs ARGV (empty: the image's ENTRYPOINT+CMD) in a fresh container of TAG as the image's
#       USER, with its WORKDIR and ENV; exits with the command's code. Prints `RUN: user=... argv=...`.
#       A TAG outside localhost/ is pulled from its registry first (a CI job's `image:`); one
#       --volume (a CI checkout) is bind-mounted at DIR.
#   image.sh inspect TAG FORMAT      buildah inspect --type image --format FORMAT TAG
#   image.sh rmi TAG...              removes images (ignores missing ones)
# Build args: pass `--build-arg K=V`. Environment: DOCKERBUILD_ROOT (default /var/lib/dockerbuild).
set -uo pipefail
DB_ROOT=${DOCKERBUILD_ROOT:-/var/lib/dockerbuild}
TC=$DB_ROOT/tools/trixie-buildah
[ -x "$TC/usr/bin/buildah" ] || { echo "image.sh: no builder in $TC; run scripts/dockerbuild/setup.sh" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "image.sh: needs root (mount, chroot)" >&2; exit 2; }
cmd=${1:?usage: image.sh build|run|inspect|rmi ...}; shift
# buildah 1.39 raises RLIMIT_NOFILE/NPROC to 1048576 unless told; without CAP_SYS_RESOURCE that
# fails, so the current limits are passed on.
ULIMITS="--ulimit nofile=$(ulimit -n):$(ulimit -n) --ulimit nproc=$(ulimit -u):$(ulimit -u)"
ctx=/nonexistent
[ "$cmd" = build ] && { ctx=$(cd "${1:?build needs CONTEXT}" && pwd) || exit 2; }

# Enter the builder chroot in a private mount namespace; /ctx is the build context.
in_builder() {
  unshare --mount --propagation private bash -c '
set -e; TC=$1; CTX=$2; DB_ROOT=$3; shift 3
mount --bind "$TC" "$TC"    # containers/storage needs / to be a mount point
mount --rbind /proc "$TC/proc"; mount --rbind /sys "$TC/sys"; mount --rbind /dev "$TC/dev"
mount -t tmpfs tmpfs "$TC/run"; mount -t tmpfs tmpfs "$TC/tmp"
mount --bind "$DB_ROOT/storage" "$TC/var/lib/containers/storage"
[ -d "$CTX" ] && mount --bind "$CTX" "$TC/ctx"
cp /etc/resolv.conf "$TC/etc/resolv.conf"
exec chroot "$TC" /bin/bash -c "$INNER" inner "$@"' outer "$TC" "$ctx" "$DB_ROOT" "$@"
}
export ULIMITS

# Prepended to the builder-side scripts below. buildah re-executes itself from a sealed memfd
# copy, and sealing fails now and then with EBUSY ("sealing memfd copy: Device or resource
# busy") before the step or command starts. `sealed_retry CMD...` runs CMD (stdout and stderr
# still streamed, each to its own stream) and, only on that failure, runs it again, at most
# twice: a build resumes from its cached layers; a run had not started its command.
# shellcheck disable=SC2016
RETRY='sealed_retry() {
  local outf errf rc attempt
  outf=$(mktemp); errf=$(mktemp)
  for attempt in 1 2 3; do
    { { "$@" | tee "$outf"; } 2>&1 1>&3 3>&- | tee "$errf" >&2; } 3>&1
    rc=$?
    if [ $rc -ne 0 ] && [ $attempt -lt 3 ] && grep -qh "sealing memfd copy: Device or resource busy" "$outf" "$errf"; then
      echo "image.sh: buildah could not seal its runtime copy (a transient EBUSY); trying again" >&2
      sleep 1; continue
    fi
    break
  done
  rm -f "$outf" "$errf"
  return $rc
}
'

case $cmd in
build)
  df=${2:?build needs DOCKERFILE}; target=${3-}; tag=${4:?build needs TAG}; shift 4
  exec 9>"$DB_ROOT/build.lock"; flock 9
  # shellcheck disable=SC2016
  INNER=$RETRY'set -uo pipefail; df=$1; target=$2; tag=$3; shift 3
# --pull=always: a base rebuilt by setup.sh under the same tag must replace the stored copy
# (a manifest check on loopback; unchanged layers are not fetched again).
args=(--isolation chroot --network host --format docker --layers --pull=always -f "/ctx/$df" -t "$tag" $ULIMITS)
[ -n "$target" ] && args+=(--target "$target")
t0=$EPOCHREALTIME
sealed_retry buildah bud "${args[@]}" "$@" /ctx; rc=$?
echo "BUILD_RC=$rc BUILD_S=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME-$t0}")"
exit $rc'
  export INNER; in_builder "$df" "$target" "$tag" "$@" ;;
run)
  tag=${1:?run needs TAG}; shift
  opts=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do
    if [ "$1" = --volume ]; then
      # The host folder is the builder's /ctx (bind-mounted by in_builder), then the container's DIR.
      vol=${2:?--volume needs HOSTDIR:DIR}; ctx=$(cd "${vol%%:*}" && pwd) || exit 2
      opts+=(--volume "/ctx:${vol#*:}"); shift 2; continue
    fi
    opts+=("$1"); shift
  done
  [ "${1:-}" = -- ] && shift
  # --env and --workingdir belong to `buildah run`, --add-host to `buildah from`.
  # shellcheck disable=SC2016
  INNER=$RETRY'set -uo pipefail; tag=$1; nopts=$2; shift 2
from=(); runo=(); i=0
while [ $i -lt "$nopts" ]; do case $1 in
  --add-host) from+=("$1" "$2");; *) runo+=("$1" "$2");; esac; shift 2; i=$((i+2)); done
pull=--pull-never; case $tag in localhost/*) ;; *) pull=--pull=always;; esac
c=$(buildah from $pull $ULIMITS "${from[@]}" "$tag") || exit 125
trap "buildah rm $c >/dev/null 2>&1" EXIT; trap "exit 143" TERM INT
if [ $# -eq 0 ]; then
  mapfile -d "" argv < <(buildah inspect --type container --format "{{range .Docker.Config.Entrypoint}}{{.}}{{\"\\x00\"}}{{end}}{{range .Docker.Config.Cmd}}{{.}}{{\"\\x00\"}}{{end}}" "$c")
else argv=("$@"); fi
echo "RUN: user=$(buildah inspect --type container --format "{{.Docker.Config.User}}" "$c") argv=${argv[*]}" >&2
sealed_retry buildah run --isolation chroot --network host "${runo[@]}" "$c" -- "${argv[@]}"; rc=$?
exit $rc'
  export INNER; in_builder "$tag" "${#opts[@]}" "${opts[@]}" "$@" ;;
inspect)
  INNER='buildah inspect --type image --format "$2" "$1"'; export INNER; in_builder "$@" ;;
rmi)
  INNER='for t in "$@"; do buildah rmi "$t" >/dev/null 2>&1; done; true'; export INNER; in_builder "$@" ;;
*) echo "image.sh: unknown command $cmd (build, run, inspect, rmi)" >&2; exit 2 ;;
esac
