"""The migrating session dies or is told to stop: SIGKILL (stale lock), pg_terminate_backend,
SIGINT and SIGTERM, each repeated (HARDENING_REPEAT multiplies the repetitions).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faults_support import (
    REPEAT,
    Run,
    error_lines,
    query,
    reset_schema,
    tracked,
    wait_for_activity,
)

from provisioning.applying import MIGRATION_FAILED


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "migrations"
    path.mkdir(exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


SLOW = {
    "1_a.up.sql": "CREATE TABLE a (id int);",
    "2_slow.up.sql": "CREATE TABLE slow (id int);\nINSERT INTO slow VALUES (1);\n"
    "SELECT pg_sleep(60);\n",
}
FIXED_SLOW = "CREATE TABLE slow (id int);\nINSERT INTO slow VALUES (1);\n"


def _exists(database: str, name: str) -> bool:
    return bool(query(database, "SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])


def _orphan_gone(database: str, pid: int, timeout: float) -> float:
    """Seconds until backend `pid` has left pg_stat_activity (fails after `timeout`)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not query(database, "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there after {timeout}s")


@pytest.mark.slow
def test_a_killed_lock_holder_leaves_no_stale_lock(database: str, tmp_path: Path) -> None:
    """SIGKILL the run inside pg_sleep(60) while it holds the lock; the next run gets it at once.

    The server notices the dead client within client_connection_check_interval (1 s, set on
    the lock session), cancels the pg_sleep, rolls the file back and frees the lock.
    """
    for attempt in range(3 * REPEAT):
        reset_schema(database)
        mdir = _folder(tmp_path, SLOW)
        env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir)}
        holder = Run(["migrate"], tmp_path, f"holder{attempt}", **env)
        backend = wait_for_activity(database, "%pg_sleep(60)%")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        (mdir / "2_slow.up.sql").write_text(FIXED_SLOW)  # pending, so editing it is allowed
        started = time.monotonic()
        second = Run(["migrate"], tmp_path, f"second{attempt}", DB_LOCK_TIMEOUT="5000", **env)
        assert second.wait() == 0, second.stdout + second.stderr
        assert time.monotonic() - started < 5
        assert _orphan_gone(database, backend, 1) < 1
        assert tracked(database) == ["1_a.up.sql", "2_slow.up.sql"]
        assert query(database, "SELECT count(*) FROM slow")[0][0] == 1  # rolled back, re-run once


@pytest.mark.slow
def test_terminated_backend_mid_migration_exits_3(database: str, tmp_path: Path) -> None:
    """pg_terminate_backend of the migrating session: exit 3, one clear line, file rolled back."""
    for attempt in range(3 * REPEAT):
        reset_schema(database)
        mdir = _folder(tmp_path, SLOW)
        env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir)}
        run = Run(["migrate"], tmp_path, f"term{attempt}", **env)
        pid = wait_for_activity(database, "%pg_sleep(60)%")
        assert query(database, "SELECT pg_terminate_backend(%s)", (pid,))[0][0]
        assert run.wait(timeout=30) == 3, run.stdout + run.stderr
        assert "Traceback" not in run.stderr and run.stderr.strip() == ""
        errors = error_lines(run.lines())
        assert len(errors) == 1, run.stdout
        line = errors[0]
        assert line["message"] == MIGRATION_FAILED
        assert line["filename"] == "2_slow.up.sql" and line["exitCode"] == 3
        assert "terminating connection" in line["error"]
        assert line["connectionLost"] is True
        assert "was lost" in line["suggestion"] and "Fix the SQL" not in line["suggestion"]
        assert tracked(database) == ["1_a.up.sql"]
        assert not _exists(database, "slow")
        (mdir / "2_slow.up.sql").write_text(FIXED_SLOW)
        rerun = Run(["migrate"], tmp_path, f"rerun{attempt}", **env)
        assert rerun.wait() == 0, rerun.stdout
        assert tracked(database) == ["1_a.up.sql", "2_slow.up.sql"]


# Statements that keep the server busy for seconds: not only pg_sleep.
BUSY = {
    "sleep": "SELECT pg_sleep(60);",
    "insert": "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 50000000) g;",
    "index": "CREATE INDEX big_slow_idx ON big (md5(md5(md5(payload))));",
}
BIG = (
    "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS payload "
    "FROM generate_series(1, 1000000) g;"
)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("busy", sorted(BUSY))
def test_signals_during_work_roll_back(
    database: str, tmp_path: Path, sig: int, code: int, busy: str
) -> None:
    """Ctrl-C / SIGTERM while the server works: exit 130 / 143, one line, nothing of the file."""
    mdir = _folder(tmp_path, {"1_big.up.sql": BIG})
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir)}
    first = Run(["migrate"], tmp_path, "first", **env)
    assert first.wait() == 0, first.stdout
    (mdir / "2_busy.up.sql").write_text(f"CREATE TABLE marker (id int);\n{BUSY[busy]}\n")
    for attempt in range(2 * REPEAT):
        run = Run(["migrate"], tmp_path, f"sig{attempt}", **env)
        wait_for_activity(database, "%CREATE TABLE marker%")
        time.sleep(0.5)  # well inside the busy statement
        os.kill(run.pid, sig)
        assert run.wait(timeout=30) == code, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        errors = error_lines(run.lines())
        assert len(errors) == 1 and errors[0]["exitCode"] == code, run.stdout
        assert errors[0]["message"] == INTERRUPTED[sig]
        assert tracked(database) == ["1_big.up.sql"]
        assert not _exists(database, "marker") and not _exists(database, "big_slow_idx")
        assert query(database, "SELECT count(*) FROM big")[0][0] == 1_000_000
    (mdir / "2_busy.up.sql").write_text("CREATE TABLE marker (id int);\n")
    rerun = Run(["migrate"], tmp_path, "rerun", **env)
    assert rerun.wait() == 0, rerun.stdout
    assert tracked(database) == ["1_big.up.sql", "2_busy.up.sql"]


INTERRUPTED = {signal.SIGINT: "Interrupted by Ctrl-C", signal.SIGTERM: "Terminated by SIGTERM"}
