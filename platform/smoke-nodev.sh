#!/usr/bin/env bash
# The production install, end to end: a fresh venv with the project installed WITHOUT its dev
# extras (as platform/compose.yaml's image is built), so a dependency that only the dev extras
# bring in fails here and not in production. From that venv: migrate a scratch database,
# collect the static files, start a worker, beat and gunicorn on Redis, apply an async event
# over REST, check /readyz, the worker's heartbeat in /metrics and that the API docs' scripts
# are served by gunicorn, then stop each with SIGTERM and require it gone within 10 s.
#   DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://host:port/N bash platform/smoke-nodev.sh
# PostgreSQL gets a scratch database on the same server (dropped at the end); anything else a
# scratch SQLite file. Redis is used on database 15, so no other worker takes its messages.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CELERY_BROKER_URL:?set CELERY_BROKER_URL=redis://host:port/N (platform/redis.sh start)}"
[[ "$CELERY_BROKER_URL" =~ ^redis://.*/[0-9]+$ ]] \
  || { echo "smoke-nodev: CELERY_BROKER_URL must be redis://host:port/N" >&2; exit 2; }

tmp="$(mktemp -d)"
pids=()
say() { echo "smoke-nodev: $*" >&2; }
fail() {
  say "FAILED: $*"
  for log in "$tmp"/*.log; do echo "--- $log" >&2; tail -n 25 "$log" >&2; done
  exit 1
}
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${scratch_db:-}" ]; then
    "$tmp/venv/bin/python" -c 'import psycopg, sys
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f"DROP DATABASE IF EXISTS \"{sys.argv[2]}\" WITH (FORCE)")' \
      "$server_url" "$scratch_db" || say "could not drop the scratch database $scratch_db"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
started=$SECONDS

say "installing the project without extras into a fresh venv"
python3 -m venv "$tmp/venv"
# pip would build in the checkout and leave build/ there; the project ships no modules of its
# own (packages = []), so its pyproject.toml alone installs exactly the same.
mkdir "$tmp/project" && cp pyproject.toml "$tmp/project/"
"$tmp/venv/bin/pip" install --disable-pip-version-check "$tmp/project" >"$tmp/pip.log" 2>&1 \
  || fail "pip install without extras"
bin="$tmp/venv/bin"

export ENV_FILE="$tmp/env" DEBUG=false HOST=127.0.0.1 WEB_CONCURRENCY=1
export PROMETHEUS_MULTIPROC_DIR="$tmp/metrics"  # web and worker add up, as on a machine
mkdir "$PROMETHEUS_MULTIPROC_DIR"
bash platform/secrets.sh "$ENV_FILE" 2>/dev/null
export CELERY_BROKER_URL="${CELERY_BROKER_URL%/*}/15"
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  server_url="$DATABASE_URL"
  scratch_db="statecenter_smoke_$$"
  "$bin/python" -c 'import psycopg, sys
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f"CREATE DATABASE \"{sys.argv[2]}\"")' "$server_url" "$scratch_db" \
    || fail "could not create a scratch database on $DATABASE_URL"
  export DATABASE_URL="${DATABASE_URL%/*}/$scratch_db"
else
  export DATABASE_URL="sqlite:///$tmp/smoke.sqlite3"
fi
PORT="$("$bin/python" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export PORT

say "migrating $DATABASE_URL"
"$bin/python" manage.py migrate --noinput -v0 >"$tmp/manage.log" 2>&1 || fail "migrate"
"$bin/python" manage.py collectstatic --noinput -v0 >>"$tmp/manage.log" 2>&1 \
  || fail "collectstatic"  # as the image build does: the admin's and the API docs' files
"$bin/python" manage.py import_machine examples/design-example.json --online \
  >>"$tmp/manage.log" 2>&1 || fail "import_machine"
token="$("$bin/python" manage.py create_api_client smoke --roles 1,2 --all-flows \
  2>>"$tmp/manage.log")" || fail "create_api_client"

say "starting a worker and beat on $CELERY_BROKER_URL, and gunicorn on port $PORT"
"$bin/celery" -A config worker --loglevel=INFO --concurrency=2 --purge >"$tmp/worker.log" 2>&1 &
worker=$!
pids+=("$worker")
"$bin/celery" -A config beat --loglevel=INFO --schedule "$tmp/beat-schedule" >"$tmp/beat.log" 2>&1 &
beat=$!
pids+=("$beat")
"$bin/gunicorn" -c platform/gunicorn.conf.py config.wsgi >"$tmp/web.log" 2>&1 &
web=$!
pids+=("$web")
for _ in $(seq 300); do
  grep -q " ready\." "$tmp/worker.log" && break
  kill -0 "$worker" 2>/dev/null || fail "the worker exited at start"
  sleep 0.1
done
grep -q " ready\." "$tmp/worker.log" || fail "the worker was not ready within 30 s"

say "an instance and an async event over REST, waiting for it to be done"
SMOKE_TOKEN="$token" "$bin/python" - <<'PY' || fail "the async event over REST"
import json, os, sys, time, urllib.error, urllib.request

api = f"http://127.0.0.1:{os.environ['PORT']}/api/v1"
headers = {"Authorization": f"Token {os.environ['SMOKE_TOKEN']}",
           "Content-Type": "application/json"}

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api + path, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)

def within(seconds, what, attempt):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if result := attempt():
                return result
        except urllib.error.HTTPError:
            raise  # an answer, and not the one expected
        except (urllib.error.URLError, ConnectionError):
            pass  # gunicorn is not listening yet
        time.sleep(0.2)
    sys.exit(f"{what} within {seconds} s")

within(30, "no answer from gunicorn", lambda: call("GET", "/instances/")[0] == 200)
_, instance = call("POST", "/instances/", {"flow": "design-example", "businessKey": "smoke"})
status, accepted = call("POST", f"/instances/{instance['id']}/events/",
                        {"event": "E1", "async": True})
assert status == 202, (status, accepted)

def finished():
    record = call("GET", f"/events/{accepted['eventId']}/")[1]
    return record if record["status"] in ("done", "failed") else None

record = within(60, "the event was not done", finished)
assert record["status"] == "done", record
print(f"event {record['id']} done; instance {instance['id']} is in {record['result']['state']}")

site = api.removesuffix("/api/v1")
with urllib.request.urlopen(f"{site}/readyz", timeout=10) as response:
    assert response.status == 200, response.status
def worker_beat():  # the worker's heartbeat, served by gunicorn from the shared folder
    with urllib.request.urlopen(f"{site}/metrics", timeout=10) as response:
        lines = response.read().decode().splitlines()
    beat = [line for line in lines if line.startswith("statecenter_worker_last_task_")]
    return beat and float(beat[0].split()[-1]) > 0
within(10, "no worker heartbeat in /metrics", worker_beat)

# The API docs serve Swagger UI from the installed sidecar's static files, not a CDN.
with urllib.request.urlopen(f"{site}/api/docs/", timeout=10) as response:
    page = response.read().decode()
assets = [part.split('"')[0] for part in page.split('src="')[1:] if "/static/" in part]
assert assets, "the API docs page names no script of ours"
for asset in assets:
    with urllib.request.urlopen(site + asset if asset.startswith("/") else asset) as response:
        assert response.status == 200, (asset, response.status)
print(f"/api/docs/ and its {len(assets)} scripts served from this server")
print("/readyz 200; /metrics has the worker's heartbeat")
PY

kill -0 "$beat" 2>/dev/null || fail "beat exited"

stop() {  # SIGTERM; the process must be gone within 10 s, as orchestrators allow
  local tenths
  kill -TERM "$2"
  for tenths in $(seq 100); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$2" 2>/dev/null && fail "$1 was still running 10 s after SIGTERM"
  say "$1 stopped $((tenths / 10)).$((tenths % 10)) s after SIGTERM"
}
stop worker "$worker"
stop beat "$beat"
stop gunicorn "$web"
say "passed in $((SECONDS - started)) s"
