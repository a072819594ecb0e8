"""Production refuses built-in secrets in every process; `make install` writes real ones once."""

import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.checks import DEVELOPMENT, WRITTEN_IN_THE_REPOSITORY, secret_problem

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KNOWN = "whsec_c3RhdGVjZW50ZXItZGV2LW9ubHktc2VjcmV0"  # the old development CALLBACK_SECRET


def _real_secrets() -> dict:
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CALLBACK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def _run(command: list, tmp_path: Path, **variables) -> subprocess.CompletedProcess:
    """Start a real process with only these secrets: no .env, nothing inherited."""
    empty = tmp_path / "empty.env"
    empty.touch()
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "CALLBACK_SECRET")}
    env.update(DEBUG="false", ENV_FILE=str(empty), CELERY_QUEUE_DIR=str(tmp_path / "queue"))
    env.update({name: value for name, value in variables.items() if value is not None})
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _check_deploy(tmp_path, **variables):
    return _run([sys.executable, "manage.py", "check", "--deploy"], tmp_path, **variables)


@pytest.mark.parametrize("name", ["SECRET_KEY", "CALLBACK_SECRET"])
@pytest.mark.parametrize(
    "value", [None, "", KNOWN, "change-me"], ids=["unset", "empty", "old", "doc"]
)
def test_manage_py_stops_while_a_secret_is_unset_empty_or_known(tmp_path, name, value):
    result = _check_deploy(tmp_path, **{**_real_secrets(), name: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} is " in result.stderr
    assert "System check" not in result.stdout  # it stopped before checking anything


def test_it_starts_with_secrets_of_its_own(tmp_path):
    result = _check_deploy(tmp_path, **_real_secrets())
    assert result.returncode == 0, result.stderr
    assert "statecenter.E001" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [BIN / "gunicorn", "--check-config", "-c", "platform/gunicorn.conf.py", "config.wsgi"],
        [BIN / "celery", "-A", "config", "worker", "--loglevel=INFO"],
    ],
    ids=["web", "worker"],
)
def test_the_web_server_and_the_worker_stop_too(tmp_path, command):
    result = _run(command, tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "ImproperlyConfigured: CALLBACK_SECRET is not set" in result.stderr


def test_check_deploy_names_the_development_secrets_a_debug_process_runs_with(tmp_path):
    result = _check_deploy(tmp_path, DEBUG="true")
    assert result.returncode != 0
    for name in ("SECRET_KEY", "CALLBACK_SECRET"):
        assert f"(statecenter.E001) {name} is a value written in the repository" in result.stderr


def _written_down() -> set[str]:
    """Every secret value the repository's files spell out: docs, examples, code and tests."""
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listing.returncode != 0:
        pytest.skip("needs a git checkout to know what the repository holds")
    files = listing.stdout.split()
    # NAME=value or NAME: value in docs and configuration; in code, only whsec_ literals
    assignment = re.compile(r"(?:SECRET_KEY|CALLBACK_SECRET)\s*[=:]\s*[\"']?([\w+/=.-]{6,})")
    found = set()
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".mo", ".png", ".sqlite3"}:
            continue
        text = path.read_text(errors="replace")
        found |= set(re.findall(r"(?<!\w)whsec_[A-Za-z0-9+/=_-]{8,}", text))
        if path.suffix != ".py":
            found |= set(assignment.findall(text))
    return found


def test_every_secret_the_repository_writes_down_is_refused():
    written = _written_down() | set(DEVELOPMENT.values())
    assert KNOWN in written and "change-me" in written  # the scan sees them
    assert [value for value in written if secret_problem("X", value) is None] == []
    assert all(secret_problem("X", value) for value in WRITTEN_IN_THE_REPOSITORY)


def test_a_callback_secret_with_an_empty_key_is_not_set():
    assert secret_problem("CALLBACK_SECRET", "whsec_ ") == "CALLBACK_SECRET is not set"


@pytest.fixture
def checkout(tmp_path):
    """The files `make install` needs; its venv step is skipped (-o), as in an installed one."""
    (tmp_path / "checkout" / "platform").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", tmp_path / "checkout")
    shutil.copy(ROOT / "platform" / "secrets.sh", tmp_path / "checkout" / "platform")
    return tmp_path / "checkout"


def _make_install(checkout: Path) -> None:
    subprocess.run(["make", "-s", "-o", ".venv/.installed", "install"], cwd=checkout, check=True)


def test_make_install_writes_random_secrets_into_env_once(checkout, tmp_path):
    _make_install(checkout)
    dotenv = checkout / ".env"
    written = dotenv.read_text()
    values = dict(line.split("=", 1) for line in written.splitlines())
    assert set(values) == {"SECRET_KEY", "CALLBACK_SECRET"}
    assert len(values["SECRET_KEY"]) >= 50
    assert len(base64.b64decode(values["CALLBACK_SECRET"].removeprefix("whsec_"))) == 32
    assert dotenv.stat().st_mode & 0o077 == 0  # the owner's only
    _make_install(checkout)
    assert dotenv.read_text() == written
    other = tmp_path / "other"
    shutil.copytree(checkout, other, ignore=shutil.ignore_patterns(".env"))
    _make_install(other)
    assert (other / ".env").read_text() != written  # each checkout its own
    result = _check_deploy(tmp_path, ENV_FILE=str(dotenv))
    assert result.returncode == 0, result.stderr


def test_make_install_keeps_what_an_existing_env_says(checkout):
    dotenv = checkout / ".env"
    dotenv.write_text("DATABASE_URL=sqlite:///x.sqlite3\nSECRET_KEY=mine-and-long-enough")
    _make_install(checkout)
    lines = dotenv.read_text().splitlines()
    assert lines[:2] == ["DATABASE_URL=sqlite:///x.sqlite3", "SECRET_KEY=mine-and-long-enough"]
    assert len(lines) == 3 and lines[2].startswith("CALLBACK_SECRET=whsec_")
