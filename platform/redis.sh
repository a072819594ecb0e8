#!/usr/bin/env bash
# A throwaway Redis for development and tests (the broker in production).
#   platform/redis.sh start   -> starts it (if not running) and prints: export CELERY_BROKER_URL=...
#   platform/redis.sh stop    -> stops it and removes its data
set -euo pipefail

PORT="${REDIS_PORT_TEST:-56379}"
DIR="${REDIS_DIR_TEST:-/tmp/statecenter-redis-$PORT}"
URL="redis://127.0.0.1:$PORT/0"

case "${1:-start}" in
  start)
    if ! redis-cli -p "$PORT" ping >/dev/null 2>&1; then
      mkdir -p "$DIR"
      redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --daemonize yes \
        --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --save "" --appendonly no >/dev/null
      for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
    echo "export CELERY_BROKER_URL=$URL"
    ;;
  stop)
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
