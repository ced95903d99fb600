"""Shared fixtures: a real PostgreSQL server, a fresh database per test, and an `inv` runner.

The server is TEST_DATABASE_URL when set, else 127.0.0.1:5432 when it answers, else the
embedded server started in a temporary project root. Never mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INV = str(Path(sys.executable).parent / "inv")
# Variables the project reads; scrubbed from the environment of every `inv` a test runs.
PROJECT_VARS = {
    "DATABASE_URL", "DB_TIMEOUT", "SKIP_SEED", "LOG_LEVEL", "LOG_FORMAT", "APP_ENV",
    "MIGRATIONS_DIR", "SEEDS_DIR", "DB_BACKOFF_BASE_MS", "DB_BACKOFF_MAX_MS",
    "DB_BACKOFF_JITTER", "DB_MAX_ATTEMPTS", "DB_LOCK_TIMEOUT", "MIGRATION_LOCK_TIMEOUT",
}  # fmt: skip
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A maintenance URL (database `postgres`) of a real server with CREATEDB rights."""
    if os.environ.get("TEST_DATABASE_URL"):
        url = os.environ["TEST_DATABASE_URL"]
        if not _answers(url):
            pytest.exit("TEST_DATABASE_URL does not answer", returncode=2)
        yield url
        return
    if _answers(LOCAL_SERVER):
        yield LOCAL_SERVER
        return
    from provisioning import embedded

    root = Path(tempfile.mkdtemp(prefix="nexus-test-server-"))
    root.chmod(0o755)
    server = embedded.start(root)
    try:
        yield server.conninfo("postgres")
    finally:
        embedded.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("TEST_DATABASE_URL") or LOCAL_SERVER
    return f"test server: {url if _answers(url) else 'embedded (started on demand)'}"


def url_for(server_url: str, dbname: str, **params: Any) -> str:
    return make_conninfo(server_url, dbname=dbname, **params)


@contextmanager
def fresh_database(server_url: str, prefix: str = "test") -> Iterator[str]:
    """Create `<prefix>_<uuid>`, yield its URL, drop it (WITH FORCE) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url_for(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def database(server_url: str) -> Iterator[str]:
    """A fresh database `test_<uuid>` for one test; dropped (WITH FORCE) afterwards."""
    with fresh_database(server_url) as url:
        yield url


@dataclass
class InvResult:
    code: int
    stdout: str
    stderr: str
    lines: list[dict[str, Any]] = field(default_factory=list)

    def messages(self) -> list[str]:
        return [line.get("message", "") for line in self.lines]

    def find(self, message: str) -> dict[str, Any]:
        """The first JSON line whose message starts with `message`."""
        for line in self.lines:
            if str(line.get("message", "")).startswith(message):
                return line
        raise AssertionError(f"no line {message!r} in:\n{self.stdout}\n{self.stderr}")


def parse_lines(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for raw in stdout.splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def inv_env(**env: str | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in PROJECT_VARS}
    base.update({"LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    for key, value in env.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def run_inv(
    *args: str, cwd: Path = PROJECT_ROOT, timeout: float = 120, **env: str | None
) -> InvResult:
    """Run `inv ARGS` in a subprocess with JSON logs; env values of None unset a variable."""
    proc = subprocess.run(
        [INV, *args],
        cwd=cwd,
        env=inv_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return InvResult(proc.returncode, proc.stdout, proc.stderr, parse_lines(proc.stdout))


@pytest.fixture
def inv() -> Any:
    return run_inv
