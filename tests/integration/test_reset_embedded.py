"""`inv reset` on the embedded server: drop and recreate `nexus` from `postgres`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PROJECT_ROOT, run_inv

from provisioning import embedded
from provisioning.pipeline import PROVISION_COMPLETED
from provisioning.reset import DATABASE_RECREATED


@pytest.fixture
def embedded_root() -> Iterator[Path]:
    """A throwaway project root (tasks.py symlinked) whose embedded server is stopped after."""
    root = Path(tempfile.mkdtemp(prefix="nexus-reset-"))
    root.chmod(0o755)  # the server runs as its own system user when tests run as root
    (root / "tasks.py").symlink_to(PROJECT_ROOT / "tasks.py")
    try:
        yield root
    finally:
        embedded.stop(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_reset_on_the_embedded_server(embedded_root: Path) -> None:
    env = {
        "DATABASE_URL": None,
        "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
        "SEEDS_DIR": str(PROJECT_ROOT / "seeds"),
    }
    first = run_inv("provision", cwd=embedded_root, timeout=300, **env)
    assert first.code == 0, first.stdout + first.stderr
    server = embedded.running_server(embedded_root)
    assert server is not None
    with psycopg.connect(server.conninfo()) as conn:
        conn.execute("INSERT INTO organizations (slug, name) VALUES ('extra', 'Extra')")

    result = run_inv("reset", "--yes", cwd=embedded_root, timeout=300, **env)
    assert result.code == 0, result.stdout + result.stderr
    assert result.find(DATABASE_RECREATED)["database"] == embedded.DATABASE
    assert result.lines[-1]["message"] == PROVISION_COMPLETED
    with psycopg.connect(server.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM organizations").fetchone() == (3,)


def test_doctor_does_not_start_the_embedded_server(embedded_root: Path) -> None:
    result = run_inv("doctor", cwd=embedded_root, DATABASE_URL=None)
    assert result.code == 2, result.stdout + result.stderr
    server = next(line for line in result.lines if line.get("check") == "server")
    assert "not running" in server["detail"] and "inv server.start" in server["fix"]
    assert embedded.running_server(embedded_root) is None
    assert not (embedded_root / embedded.PGDATA_DIRNAME).exists()
