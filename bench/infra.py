"""What the suite starts on loopback, and how it always stops it: PostgreSQL, Redis, gunicorn
and Celery workers.

Every child is started in its own session (so a Ctrl-C reaches only the orchestrator, which
then stops them in order) and stopped by its own process id at the end, on failure too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_SCRIPT = ROOT / "platform" / "postgres.sh"
REDIS_SCRIPT = ROOT / "platform" / "redis.sh"


def free_port(start: int) -> int:
    """The first port from `start` that nothing listens on."""
    for port in range(start, start + 200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {start}..{start + 199}")


class Children:
    """The long-running processes the suite started; stop() ends them, newest first."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.postgres_env: dict | None = None
        self.redis_env: dict | None = None

    def spawn(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the child
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def pid_of(self, name: str) -> int:
        """The process id of the long-running child spawned as `name`."""
        return next(proc.pid for n, proc in self.procs if n == name)

    def start(self, name: str, args: list[str], env: dict, cwd: Path = ROOT) -> subprocess.Popen:
        """A short-lived child whose standard output is its answer (see finish)."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the child
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log, start_new_session=True
        )
        log.close()
        proc.name = name
        self.procs.append((name, proc))
        return proc

    def finish(self, proc: subprocess.Popen, timeout: float) -> str:
        """Wait for a child from start() and return its output; raise if it failed."""
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _end(proc)
            raise RuntimeError(f"{proc.name} took longer than {timeout:.0f} s") from None
        finally:
            self.procs = [(n, p) for n, p in self.procs if p is not proc]
        if proc.returncode != 0:
            tail = (self.workdir / f"{proc.name}.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(f"{proc.name} exited with {proc.returncode}:\n{tail}")
        return out.decode()

    def start_postgres(self, port: int) -> str:
        """Our own throwaway PostgreSQL (platform/postgres.sh) on `port`; its DATABASE_URL."""
        env = {
            **os.environ,
            "PGPORT_TEST": str(port),
            # Our pid in the path: a second suite racing for the same port fails to start
            # its own server instead of adopting (and later removing) ours.
            "PGDATA_TEST": f"/tmp/statecenter-bench-pg-{port}-{os.getpid()}",
        }
        self.postgres_env = env
        out = subprocess.run(
            ["bash", str(PG_SCRIPT), "start"], env=env, check=True, capture_output=True, text=True
        ).stdout
        return out.strip().rsplit("=", 1)[1]

    def start_redis(self, port: int) -> str:
        """Our own throwaway Redis (platform/redis.sh) on `port`; its CELERY_BROKER_URL."""
        env = {
            **os.environ,
            "REDIS_PORT_TEST": str(port),
            "REDIS_DIR_TEST": f"/tmp/statecenter-bench-redis-{port}-{os.getpid()}",
        }
        self.redis_env = env
        args = ["bash", str(REDIS_SCRIPT), "start"]
        out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
        return out.strip().rsplit("=", 1)[1]

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                _end(proc)
        self.procs.clear()
        if self.redis_env is not None:
            subprocess.run(["bash", str(REDIS_SCRIPT), "stop"], env=self.redis_env, check=False)
            self.redis_env = None
        if self.postgres_env is not None:
            subprocess.run(["bash", str(PG_SCRIPT), "stop"], env=self.postgres_env, check=False)
            self.postgres_env = None


def checkout(commit: str, into: Path) -> Path | None:
    """The repository's files at `commit`, extracted under `into`; None (and why, on standard
    error) when this checkout does not have that commit (a shallow clone, a fork)."""
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
    )
    if found.returncode != 0:
        print(f"commit {commit} is not in this checkout: no before/after rows", file=sys.stderr)
        return None
    into.mkdir(parents=True)
    archive = subprocess.Popen(["git", "archive", commit], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed")
    if (ROOT / ".env").exists():  # the checkout's own secrets, git-ignored
        shutil.copy(ROOT / ".env", into / ".env")
    return into


def _end(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's own process group (gunicorn's workers too), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def start_gunicorn(
    children: Children, name: str, *, port: int, env: dict, workers: int, extra: tuple = ()
) -> str:
    """gunicorn with platform/gunicorn.conf.py on 127.0.0.1:`port`; waits until it answers.

    The settings are env's DJANGO_SETTINGS_MODULE, config.settings without one."""
    env = {
        **env,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "DJANGO_SETTINGS_MODULE": env.get("DJANGO_SETTINGS_MODULE", "config.settings"),
    }
    # No control socket: gunicorn's default one is a single path per user, shared with any
    # other gunicorn on the machine (make run, another engineer's bench).
    args = [
        PYTHON,
        "-m",
        "gunicorn",
        "-c",
        "platform/gunicorn.conf.py",
        "--no-control-socket",
        *extra,
        "config.wsgi",
    ]
    return _serving(children, children.spawn(name, args, env), name, port)


def _serving(children: Children, proc: subprocess.Popen, name: str, port: int) -> str:
    """The server's URL once it answers; RuntimeError if it exits or stays silent 30 s."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited; see {children.workdir / name}.log")
        try:
            urllib.request.urlopen(f"{url}/api/v1/instances/1/", timeout=1)  # noqa: S310
        except urllib.error.HTTPError:
            return url  # 401 without a token: it is serving
        except OSError:
            time.sleep(0.2)
            continue
        return url
    raise RuntimeError(f"{name} did not answer within 30 s")


def workers_cpu(master_pid: int) -> float:
    """CPU seconds (user + system) used so far by the worker processes of a server's master
    process (gunicorn's arbiter, granian's main process)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = []
    for task in Path(f"/proc/{master_pid}/task").iterdir():  # granian starts its workers
        try:  # from a thread of its own
            children += (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    total = 0
    for pid in children:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:  # a worker that exited meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def start_granian(children: Children, name: str, *, port: int, env: dict, workers: int) -> str:
    """granian serving config.wsgi on 127.0.0.1:`port` as gunicorn's sync workers do: `workers`
    processes of one thread each, access log on; waits until it answers."""
    args = [
        PYTHON,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        "1",
        "--no-ws",
        "--access-log",
        "config.wsgi:application",
    ]
    return _serving(children, children.spawn(name, args, env), name, port)
