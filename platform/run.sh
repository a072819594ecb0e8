#!/usr/bin/env bash
# `make run`: migrate, load the example machines, make a login and a token, start the web
# server and a Celery worker (with its beat) on the embedded default: SQLite and the
# filesystem broker, no other server. Ctrl-C stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PORT="${PORT:-8000}"
export DJANGO_SUPERUSER_USERNAME="${ADMIN_USERNAME:-admin}"
export DJANGO_SUPERUSER_PASSWORD="${ADMIN_PASSWORD:-admin}"
export DJANGO_SUPERUSER_EMAIL="${ADMIN_EMAIL:-admin@localhost}"
mkdir -p var
bash platform/secrets.sh .env  # this checkout's own secrets, once (make install does too)

$BIN/python manage.py migrate --noinput -v0
$BIN/python manage.py collectstatic --noinput -v0
$BIN/python manage.py import_machine examples/*.json --online --skip-existing
$BIN/python manage.py createsuperuser --noinput >/dev/null 2>&1 || true  # exists already
TOKEN="$($BIN/python manage.py create_api_client demo --roles 1,2 --designer --operator --all-flows)"

cat <<TXT

  Statecenter is starting on http://127.0.0.1:$PORT/ (web and worker)
    admin:     http://127.0.0.1:$PORT/admin/   (login $DJANGO_SUPERUSER_USERNAME / $DJANGO_SUPERUSER_PASSWORD)
    API docs:  http://127.0.0.1:$PORT/api/docs/
    API token: $TOKEN   (client 'demo', roles 1,2, designer and operator, every flow)
    try:       curl -H "Authorization: Token $TOKEN" http://127.0.0.1:$PORT/api/v1/machines/

TXT

# Metrics of the web and worker processes, summed by /metrics: one folder for this machine,
# emptied at each start (left-over files would count processes that are gone).
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

trap 'trap - INT TERM EXIT; kill 0 2>/dev/null' INT TERM EXIT
$BIN/celery -A config worker --beat --loglevel=INFO --concurrency=2 \
  --schedule var/celerybeat-schedule &
$BIN/gunicorn -c platform/gunicorn.conf.py config.wsgi &
wait
