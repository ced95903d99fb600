"""The server itself goes away: stopped in the middle of a migration, restarted while `inv wait`
retries. A throwaway PostgreSQL on a free 127.0.0.1 port (never the shared server).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from faults_support import REPEAT, Run, error_lines
from pg_throwaway import ThrowawayServer, create_server, destroy_server

from provisioning.applying import MIGRATION_FAILED
from provisioning.readiness import NOT_READY, READY

SLOW = {
    "1_a.up.sql": "CREATE TABLE a (id int);",
    "2_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(60);\n",
}


@pytest.fixture
def server() -> Iterator[ThrowawayServer]:
    server = create_server()
    try:
        server.start()
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE nexus")
        yield server
    finally:
        destroy_server(server)


def _pg_ctl_stop(server: ThrowawayServer, mode: str) -> None:
    from pg_throwaway import _library, _system_user

    _library().pg_ctl(["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=_system_user())


def _sleeping(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
                "AND state = 'active' AND pid <> pg_backend_pid()"
            ).fetchone():
                return
        time.sleep(0.05)
    raise AssertionError("the slow migration never started")


def _tracked(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT filename FROM schema_migrations ORDER BY id")]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_stopped_mid_migration(server: ThrowawayServer, tmp_path: Path, mode: str) -> None:
    """Exit 3, one clear line naming the file and the lost connection; re-run after restart."""
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    for name, text in SLOW.items():
        (mdir / name).write_text(text)
    url = server.url(db="nexus")
    env = {"DATABASE_URL": url, "MIGRATIONS_DIR": str(mdir)}
    for attempt in range(2 * REPEAT):
        run = Run(["migrate"], tmp_path, f"stop{mode}{attempt}", **env)
        _sleeping(url)
        _pg_ctl_stop(server, mode)
        assert run.wait(timeout=60) == 3, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        errors = error_lines(run.lines())
        assert len(errors) == 1, run.stdout
        line = errors[0]
        assert line["message"] == MIGRATION_FAILED and line["filename"] == "2_slow.up.sql"
        assert line["connectionLost"] is True and "inv wait" in line["suggestion"]
        assert "@" not in line["error"]  # no conninfo in the error text
        server.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('slow')").fetchone() == (None,)
            has_a = conn.execute("SELECT to_regclass('a') IS NOT NULL").fetchone() == (True,)
        if mode == "fast":
            assert _tracked(url) == ["1_a.up.sql"]
        else:
            # A crash (immediate stop) may lose the asynchronous commit of 1_a made moments
            # before: the file and its row are lost together, never one without the other.
            assert _tracked(url) == (["1_a.up.sql"] if has_a else [])
    (mdir / "2_slow.up.sql").write_text("CREATE TABLE slow (id int);\n")
    rerun = Run(["migrate"], tmp_path, "rerun", **env)
    assert rerun.wait(timeout=60) == 0, rerun.stdout
    assert _tracked(url) == ["1_a.up.sql", "2_slow.up.sql"]


@pytest.mark.slow
def test_wait_survives_a_server_restart(server: ThrowawayServer, tmp_path: Path) -> None:
    """Stopped server, `inv wait` retrying, server back after a few seconds: exit 0."""
    for attempt in range(2 * REPEAT):
        server.stop()
        run = Run(
            ["wait"], tmp_path, f"wait{attempt}", DATABASE_URL=server.url(db="nexus"),
            DB_TIMEOUT="60000", DB_BACKOFF_BASE_MS="200", DB_BACKOFF_MAX_MS="1000",
        )  # fmt: skip
        starter = threading.Thread(target=server.start_after, args=(3.0,))
        starter.start()
        try:
            code = run.wait(timeout=90)
        finally:
            starter.join()
        assert code == 0, run.stdout + run.stderr
        lines = run.lines()
        retries = [line for line in lines if line["message"] == NOT_READY]
        assert len(retries) >= 2 and all(line["level"] == "warn" for line in retries)
        assert [line["attempt"] for line in retries] == list(range(1, len(retries) + 1))
        assert not error_lines(lines)
        assert lines[-1]["message"] == READY and lines[-1]["attempts"] == len(retries) + 1


@pytest.mark.slow
def test_failed_run_is_durable_before_it_reports(server: ThrowawayServer, tmp_path: Path) -> None:
    """Asynchronous commits are flushed before a failure is reported: a crash right after a
    failed run (immediate stop, no checkpoint) keeps every file the run said it applied."""
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    for number in range(1, 31):
        (mdir / f"{number}_t{number}.up.sql").write_text(f"CREATE TABLE t{number} (id int);\n")
    (mdir / "31_broken.up.sql").write_text("CRATE TABLE broken (id int);\n")
    url = server.url(db="nexus")
    env = {"DATABASE_URL": url, "MIGRATIONS_DIR": str(mdir)}
    for attempt in range(REPEAT):
        run = Run(["migrate"], tmp_path, f"durable{attempt}", **env)
        assert run.wait(timeout=60) == 3, run.stdout + run.stderr
        applied = [
            line["filename"] for line in run.lines() if line["message"] == "Migration applied"
        ]
        _pg_ctl_stop(server, "immediate")  # a crash: no shutdown checkpoint, WAL only
        server.start()
        assert _tracked(url) == [f"{n}_t{n}.up.sql" for n in range(1, 31)]
        assert len(applied) == 30 or attempt > 0  # later attempts have nothing left to apply
