#!/usr/bin/env bash
# Job services for the real-build tests, from Debian packages on loopback (no containers):
#   service.sh start postgres DIR PORT [DB [USER [PASSWORD]]]   PostgreSQL 15 (initdb as postgres in DIR)
#   service.sh start mysql DIR PORT [DB [PASSWORD]]              MariaDB 10.11 (for mysql and mariadb
#                                                                images; root over TCP, as their images)
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
  mysql)
    db=${5:-}; pass=${6:-}
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] \
      || die "no MariaDB server; install mariadb-server (scripts/dockerbuild/setup.sh does)"
    chown mysql "$dir"
    mariadb-install-db --user=mysql --datadir="$dir/data" --auth-root-authentication-method=normal \
      --skip-test-db >"$dir/install.log" 2>&1 || { tail -20 "$dir/install.log" >&2; die "mariadb-install-db failed"; }
    /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$dir/data" --bind-address=127.0.0.1 \
      --port="$port" --socket="$dir/mysql.sock" --pid-file="$dir/mysql.pid" --skip-name-resolve \
      --innodb-flush-log-at-trx-commit=0 --log-error="$dir/server.log" >/dev/null 2>&1 &
    for _ in $(seq 100); do mariadb-admin --no-defaults -S "$dir/mysql.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done
    mariadb-admin --no-defaults -S "$dir/mysql.sock" -uroot ping >/dev/null 2>&1 \
      || { tail -20 "$dir/server.log" >&2; die "mariadb did not start on 127.0.0.1:$port"; }
    # The mysql image's root may connect from any host; the job reaches it over TCP.
    sql="CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$pass'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    [ -n "$db" ] && sql="$sql CREATE DATABASE IF NOT EXISTS \`$db\`;"
    mariadb --no-defaults -S "$dir/mysql.sock" -uroot -e "$sql" || die "could not create the root user and database"
    echo "mysql 127.0.0.1:$port db=${db:-none} user=root" >&2 ;;
  redis)
    chown redis "$dir" 2>/dev/null || true
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/server.log" --save "" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null 2>&1 || { tail -20 "$dir/server.log" >&2; die "redis did not start"; } ;;
  *) die "no service recipe for $kind (postgres, mysql, redis)" ;;
  esac ;;
stop)
  dir=${2:?dir}; [ -f "$dir/kind" ] || exit 0
  case $(cat "$dir/kind") in
  postgres) bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
            runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true ;;
  mysql) [ -f "$dir/mysql.pid" ] && kill "$(cat "$dir/mysql.pid")" 2>/dev/null || true
         for _ in $(seq 50); do [ -f "$dir/mysql.pid" ] || break; sleep 0.1; done ;;
  redis) [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true ;;
  esac
  rm -rf "$dir" ;;
*) die "unknown command $cmd" ;;
esac
