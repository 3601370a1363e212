# shellcheck shell=bash
# A real ChromaDB server for tests, on a free loopback port. Source this file, then:
#   chroma_start   # installs chromadb from PyPI into .ci-cache/chroma-venv (first time only),
#                  # starts `chroma run` and exports PIPEWRIGHT_TEST_CHROMA_URL
#   chroma_stop    # stops that server (by its pid) and removes its data folder
# CHROMA_PIP_SPEC overrides what pip installs (default: the version the tests were written
# against); CHROMA_START_TIMEOUT the seconds to wait for the heartbeat (default 60).

_chroma_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHROMA_VENV="${CHROMA_VENV:-$_chroma_root/.ci-cache/chroma-venv}"
CHROMA_PIP_SPEC="${CHROMA_PIP_SPEC:-chromadb==1.5.9}"

chroma_install() {
    # The marker is written only after pip succeeded, so an interrupted install is redone.
    if [ -f "$CHROMA_VENV/.installed" ] && [ -x "$CHROMA_VENV/bin/chroma" ]; then
        return 0
    fi
    echo "chroma: installing $CHROMA_PIP_SPEC into $CHROMA_VENV (about 500 MB, once)" >&2
    rm -rf "$CHROMA_VENV"
    mkdir -p "$(dirname "$CHROMA_VENV")"
    python3 -m venv "$CHROMA_VENV" || { echo "chroma: python3 -m venv failed; install python3-venv" >&2; return 1; }
    "$CHROMA_VENV/bin/pip" install --quiet --disable-pip-version-check "$CHROMA_PIP_SPEC" \
        || { echo "chroma: pip install $CHROMA_PIP_SPEC failed; check access to PyPI" >&2; return 1; }
    touch "$CHROMA_VENV/.installed"
}

_chroma_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_chroma_heartbeat() {
    python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/api/v2/heartbeat", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

chroma_start() {
    chroma_install || return 1
    CHROMA_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pipewright-chroma.XXXXXX")"
    local port
    port="$(_chroma_free_port)" || { echo "chroma: no free loopback port" >&2; return 1; }
    local url="http://127.0.0.1:$port"
    "$CHROMA_VENV/bin/chroma" run --path "$CHROMA_DATA_DIR/data" --host 127.0.0.1 --port "$port" \
        >"$CHROMA_DATA_DIR/server.log" 2>&1 &
    CHROMA_PID=$!
    local limit="${CHROMA_START_TIMEOUT:-60}" waited=0
    until _chroma_heartbeat "$url"; do
        if ! kill -0 "$CHROMA_PID" 2>/dev/null; then
            echo "chroma: the server exited during start-up; its log:" >&2
            tail -n 20 "$CHROMA_DATA_DIR/server.log" >&2
            return 1
        fi
        if [ "$waited" -ge "$((limit * 2))" ]; then
            echo "chroma: no heartbeat from $url after ${limit}s; its log:" >&2
            tail -n 20 "$CHROMA_DATA_DIR/server.log" >&2
            chroma_stop
            return 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    export PIPEWRIGHT_TEST_CHROMA_URL="$url"
    echo "chroma: $url (pid $CHROMA_PID, data $CHROMA_DATA_DIR)" >&2
}

chroma_stop() {
    if [ -n "${CHROMA_PID:-}" ]; then
        kill "$CHROMA_PID" 2>/dev/null || true
        wait "$CHROMA_PID" 2>/dev/null || true
        CHROMA_PID=""
    fi
    if [ -n "${CHROMA_DATA_DIR:-}" ] && [ -d "$CHROMA_DATA_DIR" ]; then
        rm -rf "$CHROMA_DATA_DIR"
        CHROMA_DATA_DIR=""
    fi
    unset PIPEWRIGHT_TEST_CHROMA_URL
}
