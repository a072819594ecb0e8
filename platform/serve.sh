#!/bin/sh
# One role of a Statecenter machine: the commands platform/compose.yaml runs, and the
# two-machine test (tests/operations/test_several_machines.py) with them.
#   sh platform/serve.sh migrate   once per release, before the others; also empties this
#                                  machine's PROMETHEUS_MULTIPROC_DIR (left-over files count)
#   sh platform/serve.sh web       gunicorn: HOST, PORT, WEB_CONCURRENCY (platform/gunicorn.conf.py)
#   sh platform/serve.sh worker    a Celery worker of WORKER_CONCURRENCY processes (default 2),
#                                  named WORKER_NAME (default celery@<host name>)
#   sh platform/serve.sh beat      Celery beat, exactly one in the whole deployment; its
#                                  schedule file at BEAT_SCHEDULE
# The programs come from PATH (the image's, or a venv's bin first). Each role replaces the
# shell (exec), so the orchestrator's signals reach the program itself.
set -eu
cd "$(dirname "$0")/.."

case "${1:-}" in
  migrate)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
      find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
    fi
    # Not counted in the folder: its own files would stay there, a process long gone.
    exec env -u PROMETHEUS_MULTIPROC_DIR python manage.py migrate --noinput
    ;;
  web)
    exec gunicorn -c platform/gunicorn.conf.py config.wsgi
    ;;
  worker)
    exec celery -A config worker --loglevel=INFO --concurrency="${WORKER_CONCURRENCY:-2}" \
      --hostname="${WORKER_NAME:-celery@%h}"
    ;;
  beat)
    exec celery -A config beat --loglevel=INFO \
      --schedule="${BEAT_SCHEDULE:-/tmp/celerybeat-schedule}"
    ;;
  *)
    echo "usage: $0 migrate|web|worker|beat" >&2
    exit 2
    ;;
esac
