#!/usr/bin/env bash
# Job services for the real-build tests, from Debian packages on loopback (no containers):
#   service.sh start postgres DIR PORT [DB [USER [PASSWORD]]]   PostgreSQL 15 (initdb as postgres in DIR)
#   service.sh start redis DIR PORT                              redis-server
#   service.sh stop DIR                                          stops what `start` started in DIR
# Waits until the server accepts connections; prints its log tail when it does not.
set -euo pipefail
cmd=${1:?usage: service.sh start KIND DIR PORT ... | stop DIR}
die() { echo "service.sh: $*" >&2; exit 1; }
case $cmd in
start)
  kind=${2:?kind}; dir=${3:?dir}; port=${4:?port}
  mkdir -p "$dir"; echo "$kind" >"$dir/kind"
  case $kind in
  postgres)
    db=${5:-postgres}; user=${6:-postgres}; pass=${7:-}
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -x "$bin/initdb" ] || die "no PostgreSQL server; install postgresql-15 (scripts/dockerbuild/setup.sh does)"
    chown postgres "$dir"
    as_pg() { runuser -u postgres -- "$@"; }
    as_pg "$bin/initdb" -D "$dir/data" -U "$user" --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { tail -20 "$dir/initdb.log" >&2; die "initdb failed"; }
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; die "postgres did not start on 127.0.0.1:$port"; }
    [ -n "$pass" ] && as_pg "$bin/psql" -h "$dir" -p "$port" -U "$user" -d postgres -qc "ALTER USER \"$user\" PASSWORD '$pass'" >/dev/null
    [ "$db" != postgres ] && as_pg "$bin/createdb" -h "$dir" -p "$port" -U "$user" "$db"
    echo "postgres 127.0.0.1:$port db=$db user=$user" >&2 ;;
  redis)
    chown redis "$dir" 2>/dev/null || true
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/server.log" --save "" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { tail -20 "$dir/server.log" >&2; die "redis did not start"; } ;;
  *) die "no service recipe for $kind (postgres, redis)" ;;
  esac ;;
stop)
  dir=${2:?dir}; [ -f "$dir/kind" ] || exit 0
  case $(cat "$dir/kind") in
  postgres) bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
            runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true ;;
  redis) [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true ;;
  esac
  rm -rf "$dir" ;;
*) die "unknown command $cmd" ;;
esac
