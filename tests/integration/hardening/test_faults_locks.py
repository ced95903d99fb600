"""MIGRATION_LOCK_TIMEOUT with bystanders: the suggestion names the session that blocks the
migration, not another session that merely holds a lock elsewhere. Repeated, with the
bystander connected first so it has the lower pid.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from faults_support import REPEAT, Run, error_lines, reset_schema, tracked

from provisioning.applying import MIGRATION_FAILED


@pytest.mark.parametrize("blocking_mode", ["ROW EXCLUSIVE", "SHARE", "ACCESS EXCLUSIVE"])
def test_lock_timeout_names_the_blocker_among_bystanders(
    database: str, tmp_path: Path, blocking_mode: str
) -> None:
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    (mdir / "1_tables.up.sql").write_text(
        "CREATE TABLE accounts (id int);\nCREATE TABLE bystander (id int);"
    )
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir)}
    for attempt in range(3 * REPEAT):
        reset_schema(database)
        (mdir / "2_alter.up.sql").unlink(missing_ok=True)
        first = Run(["migrate"], tmp_path, f"first{attempt}", **env)
        assert first.wait() == 0, first.stdout
        (mdir / "2_alter.up.sql").write_text("ALTER TABLE accounts ADD COLUMN x int;")
        with psycopg.connect(database) as bystander, psycopg.connect(database) as blocker:
            bystander.execute("LOCK TABLE bystander IN ACCESS EXCLUSIVE MODE")
            blocker.execute(f"LOCK TABLE accounts IN {blocking_mode} MODE")
            run = Run(["migrate"], tmp_path, f"blocked{attempt}", MIGRATION_LOCK_TIMEOUT="500",
                      **env)  # fmt: skip
            code = run.wait(timeout=60)
            blocker_pid = blocker.execute("SELECT pg_backend_pid()").fetchone()
            bystander.rollback()
            blocker.rollback()
        assert code == 3, run.stdout + run.stderr
        errors = error_lines(run.lines())
        assert len(errors) == 1
        line = errors[0]
        assert line["message"] == MIGRATION_FAILED and line["sqlstate"] == "55P03"
        assert blocker_pid is not None
        assert line["blockingPid"] == blocker_pid[0], (line, blocker_pid)
        assert f"pid {blocker_pid[0]}" in line["suggestion"] and "accounts" in line["suggestion"]
        assert tracked(database) == ["1_tables.up.sql"]
