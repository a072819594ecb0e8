#!/usr/bin/env bash
# A throwaway PostgreSQL for development and tests.
#   platform/postgres.sh start   -> starts it (if not running) and prints: export DATABASE_URL=...
#   platform/postgres.sh stop    -> stops it and removes its data
#   platform/postgres.sh restart -> restarts the running server, keeping its data (outage tests)
# PostgreSQL refuses to run as root, so as root it runs as the 'postgres' user.
set -euo pipefail

PORT="${PGPORT_TEST:-55432}"
DATA="${PGDATA_TEST:-/tmp/statecenter-pg-$PORT}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || BIN="$(dirname "$(command -v initdb)")"
URL="postgres://postgres@127.0.0.1:$PORT/statecenter"

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-start}" in
  start)
    if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      rm -rf "$DATA" && mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
      as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
      if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 180 \
        -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2; then
        tail -n 30 "$DATA/server.log" >&2  # why it did not start, before anything cleans up
        exit 1
      fi
      as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres statecenter
    fi
    echo "export DATABASE_URL=$URL"
    ;;
  restart)
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -m fast -w restart >/dev/null
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
    ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
