"""`inv rollback`, `inv forget` and `inv new` against real PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from conftest import PROJECT_ROOT, run_inv

from provisioning.db import MIGRATION_LOCK_KEY
from provisioning.rollback import FORGOTTEN, ROLLBACK_FAILED, ROLLED_BACK


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT filename FROM schema_migrations ORDER BY id").fetchall()
        return [row[0] for row in rows]


def exists(url: str, table: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(row and row[0])


@pytest.fixture
def migrated(database: str) -> str:
    result = run_inv("migrate", DATABASE_URL=database)
    assert result.code == 0, result.stdout
    return database


def test_rollback_one_step(migrated: str) -> None:
    result = run_inv("rollback", DATABASE_URL=migrated)
    assert result.code == 0, result.stdout
    assert result.find(ROLLED_BACK)["filename"] == "005_add_updated_at_triggers.up.sql"
    assert applied(migrated)[-1] == "004_create_tasks.up.sql"
    with psycopg.connect(migrated) as conn:
        assert conn.execute("SELECT to_regprocedure('set_updated_at()')").fetchone() == (None,)


def test_rollback_several_steps_newest_id_first(database: str, tmp_path: Path) -> None:
    # Apply 001, 002, 004 and then 003 (out of order): newest id first means 003 goes first.
    folder = tmp_path / "m"
    folder.mkdir()
    for path in sorted((PROJECT_ROOT / "migrations").glob("00[1-4]_*")):
        shutil.copy(path, folder)
    held = folder.parent / "held"
    held.mkdir()
    for name in ("003_create_projects.up.sql", "003_create_projects.down.sql"):
        (folder / name).rename(held / name)
    (folder / "004_create_tasks.up.sql").write_text("CREATE TABLE tasks_alt (id int);\n")
    (folder / "004_create_tasks.down.sql").write_text("DROP TABLE tasks_alt;\n")
    assert run_inv("migrate", DATABASE_URL=database, MIGRATIONS_DIR=str(folder)).code == 0
    for path in held.iterdir():
        path.rename(folder / path.name)
    assert run_inv("migrate", DATABASE_URL=database, MIGRATIONS_DIR=str(folder)).code == 0
    assert applied(database)[-1] == "003_create_projects.up.sql"

    result = run_inv("rollback", "--steps", "2", DATABASE_URL=database, MIGRATIONS_DIR=str(folder))
    assert result.code == 0, result.stdout
    undone = [line["filename"] for line in result.lines if line["message"] == ROLLED_BACK]
    assert undone == ["003_create_projects.up.sql", "004_create_tasks.up.sql"]
    assert applied(database) == ["001_create_organizations.up.sql", "002_create_users.up.sql"]
    assert not exists(database, "projects") and not exists(database, "tasks_alt")


def test_rollback_without_down_file_refuses(database: str, tmp_path: Path) -> None:
    (tmp_path / "001_t.up.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "002_u.up.sql").write_text("CREATE TABLE u (id int);\n")
    (tmp_path / "002_u.down.sql").write_text("-- only a comment: counts as missing\n")
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(tmp_path)}
    assert run_inv("migrate", **env).code == 0
    result = run_inv("rollback", **env)
    assert result.code == 1, result.stdout
    last = result.lines[-1]
    assert last["filename"] == "002_u.up.sql" and last["exitCode"] == 1
    assert "DELETE FROM schema_migrations WHERE filename='002_u.up.sql';" in last["suggestion"]
    assert len(last["manualProcedure"]) == 3
    assert applied(database) == ["001_t.up.sql", "002_u.up.sql"] and exists(database, "u")


def test_failing_down_file_exits_3_and_changes_nothing(database: str, tmp_path: Path) -> None:
    (tmp_path / "001_t.up.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "001_t.down.sql").write_text("DROP TABLE t;\nDROP TABLE no_such_table;\n")
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(tmp_path)}
    assert run_inv("migrate", **env).code == 0
    result = run_inv("rollback", **env)
    assert result.code == 3, result.stdout
    last = result.lines[-1]
    assert last["message"] == ROLLBACK_FAILED and last["filename"] == "001_t.down.sql"
    assert "no_such_table" in last["error"]
    assert applied(database) == ["001_t.up.sql"] and exists(database, "t")


def test_no_transaction_down_file(database: str, tmp_path: Path) -> None:
    (tmp_path / "001_t.up.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "002_i.up.sql").write_text(
        "-- provision:no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\n"
    )
    (tmp_path / "002_i.down.sql").write_text(
        "-- provision:no-transaction\nDROP INDEX CONCURRENTLY t_id;\n"
    )
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(tmp_path)}
    assert run_inv("migrate", **env).code == 0, "no-transaction up file applies"
    result = run_inv("rollback", **env)
    assert result.code == 0, result.stdout
    assert applied(database) == ["001_t.up.sql"] and not exists(database, "t_id")


def test_rollback_waits_for_the_lock(migrated: str) -> None:
    with psycopg.connect(migrated, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        result = run_inv("rollback", DATABASE_URL=migrated, DB_LOCK_TIMEOUT="300")
    assert result.code == 3, result.stdout
    assert result.lines[-1]["holderPid"] is not None
    assert len(applied(migrated)) == 5


def test_forget(migrated: str) -> None:
    name = "005_add_updated_at_triggers.up.sql"
    refused = run_inv("forget", name, DATABASE_URL=migrated)  # stdin is not a terminal
    assert refused.code == 1 and "--yes" in refused.lines[-1]["message"]
    assert name in applied(migrated)
    unknown = run_inv("forget", "999_nope.up.sql", "--yes", DATABASE_URL=migrated)
    assert unknown.code == 1 and unknown.lines[-1]["filename"] == "999_nope.up.sql"
    done = run_inv("forget", name, "--yes", DATABASE_URL=migrated)
    assert done.code == 0, done.stdout
    assert done.find(FORGOTTEN)["filename"] == name
    assert name not in applied(migrated) and len(applied(migrated)) == 4


def test_new_pair_keeps_width_and_counts_as_empty(database: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(tmp_path)}
    first = run_inv("new", "create_things", **env)
    assert first.code == 0, first.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "001_create_things.down.sql", "001_create_things.up.sql"]  # fmt: skip
    (tmp_path / "0041_old.up.sql").write_text("SELECT 1;\n")
    assert run_inv("new", "add-more", **env).code == 0
    assert (tmp_path / "0042_add-more.up.sql").is_file()
    assert (tmp_path / "0042_add-more.down.sql").is_file()
    bad = run_inv("new", "bad name!", **env)
    assert bad.code == 1 and "Invalid migration name" in bad.lines[-1]["message"]
    assert len(list(tmp_path.iterdir())) == 5
    refused = run_inv("migrate", **env)  # a fresh template is empty until edited
    assert refused.code == 3, refused.stdout
    assert "empty" in refused.lines[-1]["message"]
