# shellcheck shell=bash
# The real-build harness for tests (scripts/dockerbuild/): buildah without a daemon, a loopback
# registry with base images made from Debian packages, PostgreSQL/MariaDB/Redis for job services.
# Source this file, then:
#   dockerbuild_start   # setup.sh (installs once, reuses bases in /var/lib/dockerbuild), starts the
#                       # registry when it is not running, exports PIPEWRIGHT_DOCKERBUILD (scripts dir)
#   dockerbuild_stop    # stops the registry if dockerbuild_start started it
# Needs root. DOCKERBUILD_SKIP=1 leaves the harness out (the real-build tests then skip, or fail
# under CI=true).
_dockerbuild_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../dockerbuild" && pwd)"

dockerbuild_start() {
    if [ -n "${DOCKERBUILD_SKIP:-}" ]; then
        echo "dockerbuild: skipped (DOCKERBUILD_SKIP set)" >&2
        return 0
    fi
    local root="${DOCKERBUILD_ROOT:-/var/lib/dockerbuild}" reg="${DOCKERBUILD_REGISTRY:-127.0.0.1:15000}"
    local was_running=""
    curl -sf "http://$reg/v2/" >/dev/null 2>&1 && was_running=1
    "$_dockerbuild_dir/setup.sh" || { echo "dockerbuild: setup failed (see above)" >&2; return 1; }
    local pidfile="$root/registry-${reg//[:.]/-}.pid"
    if [ -z "$was_running" ] && [ -f "$pidfile" ]; then
        DOCKERBUILD_REGISTRY_PID="$(cat "$pidfile")"
    fi
    export PIPEWRIGHT_DOCKERBUILD="$_dockerbuild_dir"
    export PIPEWRIGHT_DOCKERBUILD_REGISTRY="$reg"
}

dockerbuild_stop() {
    if [ -n "${DOCKERBUILD_REGISTRY_PID:-}" ]; then
        kill "$DOCKERBUILD_REGISTRY_PID" 2>/dev/null || true
        DOCKERBUILD_REGISTRY_PID=""
    fi
}
