"""Machines of a deployment as real processes, each role started by platform/serve.sh exactly
as platform/compose.yaml starts it: migrate, web (gunicorn), worker, beat."""

import functools
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.worker import wait_for

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "platform" / "serve.sh"
READY = {"worker": " ready.", "beat": "beat: Starting"}  # the line that says it runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Machine:
    """One machine: its own metrics folder and web port; each process in its own group."""

    def __init__(self, name: str, env: dict, folder: Path):
        folder.mkdir(parents=True)
        self.name, self.folder, self.port = name, folder, free_port()
        self.metrics = folder / "metrics"
        self.env = {
            **env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics),
            "METRICS_TOKEN": "",  # loopback scrapes, as a Prometheus on the machine would
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKER_NAME": f"{name}@%h",  # two workers on one host need two names
            "BEAT_SCHEDULE": str(folder / "beat-schedule"),
        }
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, role: str) -> None:
        """A role that ends (migrate); its output in the assertion if it fails."""
        done = subprocess.run(["sh", SERVE, role], cwd=ROOT, env=self.env, timeout=120,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, f"{self.name} {role}:\n{done.stdout}\n{done.stderr}"

    def start(self, role: str) -> None:
        with open(self.folder / f"{role}.log", "w") as log:
            self.processes[role] = subprocess.Popen(
                ["sh", SERVE, role], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def log(self, role: str) -> str:
        return (self.folder / f"{role}.log").read_text(errors="replace")

    def wait_started(self, timeout: float = 60) -> None:
        """Every started role runs: web answers /readyz 200, the others logged their start."""
        for role, process in self.processes.items():
            started = functools.partial(self._started, role, process)
            wait_for(started, timeout=timeout, interval=0.2)

    def _started(self, role: str, process: subprocess.Popen) -> bool:
        assert process.poll() is None, f"{self.name} {role} exited:\n{self.log(role)[-3000:]}"
        if role != "web":
            return READY[role] in self.log(role)
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False  # not listening yet

    def kill(self, role: str) -> None:
        """SIGKILL the role's whole process group, as a crash of its machine part would."""
        process = self.processes[role]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        """SIGTERM each running role; SIGKILL what is still there after 15 s."""
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGTERM)
        for process in running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def logs(self, lines: int = 40) -> str:
        return "".join(
            f"--- machine {self.name}, {role} (last {lines} lines) ---\n"
            + "".join(self.log(role).splitlines(keepends=True)[-lines:])
            for role in self.processes
        )
