# shellcheck shell=bash
# A real PostgreSQL 15 for tests (the shared run store), on a free loopback port. Source this
# file, then:
#   postgres_start   # installs Debian's postgresql-15 when missing, `initdb` as the `postgres`
#                    # user into a temporary folder (fsync off), starts it on 127.0.0.1 and
#                    # exports PIPEWRIGHT_TEST_DATABASE_URL (a superuser URL; tests create
#                    # their own databases)
#   postgres_stop    # stops that server (by its pid file) and removes its folder
# Runs as root (initdb refuses root: the server runs as `postgres`) or as any user that can
# run initdb itself. POSTGRES_BIN overrides the folder of initdb/pg_ctl.

_pg_bin() {
    if [ -n "${POSTGRES_BIN:-}" ]; then echo "$POSTGRES_BIN"; return; fi
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    echo "${found:-/usr/lib/postgresql/15/bin}"
}

postgres_install() {
    if [ -x "$(_pg_bin)/initdb" ]; then
        return 0
    fi
    echo "postgres: installing postgresql-15 (Debian)" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "postgres: initdb is missing and installing needs root: apt-get install postgresql-15" >&2
        return 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15 >/dev/null; } \
        || { echo "postgres: apt-get install postgresql-15 failed" >&2; return 1; }
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the server's user (postgres when we are root).
_pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

postgres_start() {
    postgres_install || return 1
    local bin user port
    bin="$(_pg_bin)"
    user="$(id -un)"
    if [ "$(id -u)" -eq 0 ]; then user=postgres; fi
    PG_TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pipewright-postgres.XXXXXX")"
    chmod 755 "$PG_TEST_DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$PG_TEST_DIR"; fi
    _pg_as "$bin/initdb" -D "$PG_TEST_DIR/data" -U "$user" --auth=trust -E UTF8 --no-sync \
        >"$PG_TEST_DIR/initdb.log" 2>&1 \
        || { echo "postgres: initdb failed; its log:" >&2; tail -n 20 "$PG_TEST_DIR/initdb.log" >&2; return 1; }
    port="$(_pg_free_port)" || { echo "postgres: no free loopback port" >&2; return 1; }
    _pg_as "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t "${POSTGRES_START_TIMEOUT:-60}" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >/dev/null \
        || { echo "postgres: the server did not start; its log:" >&2; tail -n 20 "$PG_TEST_DIR/server.log" >&2; return 1; }
    PG_TEST_USER="$user"
    export PIPEWRIGHT_TEST_DATABASE_URL="postgres://$user@127.0.0.1:$port/postgres"
    echo "postgres: $PIPEWRIGHT_TEST_DATABASE_URL (data $PG_TEST_DIR)" >&2
}

postgres_stop() {
    if [ -n "${PG_TEST_DIR:-}" ] && [ -d "$PG_TEST_DIR" ]; then
        _pg_as "$(_pg_bin)/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_TEST_DIR"
        PG_TEST_DIR=""
    fi
    unset PIPEWRIGHT_TEST_DATABASE_URL
}
