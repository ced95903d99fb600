"""`inv migrate` end to end against a real PostgreSQL (a fresh database per test)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import INV, PROJECT_ROOT, inv_env, parse_lines, run_inv

from provisioning.applying import APPLIED, APPLYING, MIGRATION_FAILED
from provisioning.migrate import (
    CHECKSUM_MISMATCH,
    MISSING_FILE,
    OUT_OF_ORDER,
    SUMMARY,
    WOULD_APPLY,
)
from provisioning.migrations import TRACKING_TABLE_DDL


def folder(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    path = tmp_path / "migrations"
    path.mkdir(exist_ok=True)
    for name, content in files.items():
        (path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def migrate(database: str, mdir: Path, *args: str, **env: Any) -> Any:
    return run_inv("migrate", *args, DATABASE_URL=database, MIGRATIONS_DIR=str(mdir), **env)


def query(database: str, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database, autocommit=True) as conn:
        return conn.execute(text).fetchall()


def tracked(database: str) -> list[str]:
    return [r[0] for r in query(database, "SELECT filename FROM schema_migrations ORDER BY id")]


def table_exists(database: str, name: str) -> bool:
    return query(database, f"SELECT to_regclass('{name}') IS NOT NULL")[0][0]


BASIC = {
    "1_a.up.sql": "CREATE TABLE a (id int);",
    "2_b.up.sql": "CREATE TABLE b (id int);",
    "10_c.up.sql": "CREATE TABLE c (id int);",
}


def test_fresh_apply_then_idempotent_rerun(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, BASIC)
    first = migrate(database, mdir)
    assert first.code == 0, first.stdout
    assert [line["filename"] for line in first.lines if line["message"] == APPLIED] == [
        "1_a.up.sql", "2_b.up.sql", "10_c.up.sql",
    ]  # fmt: skip
    assert all("durationMs" in line for line in first.lines if line["message"] == APPLIED)
    assert first.find(SUMMARY)["applied"] == 3
    assert tracked(database) == ["1_a.up.sql", "2_b.up.sql", "10_c.up.sql"]
    checksums = query(database, "SELECT checksum FROM schema_migrations")
    assert all(len(c[0]) == 64 and c[0] == c[0].lower() for c in checksums)
    second = migrate(database, mdir)
    assert second.code == 0
    assert APPLYING not in second.messages()
    assert (second.find(SUMMARY)["applied"], second.find(SUMMARY)["skipped"]) == (0, 3)


def test_modified_applied_file_stops_before_anything(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, BASIC)
    assert migrate(database, mdir).code == 0
    (mdir / "1_a.up.sql").write_text("CREATE TABLE a (id bigint);")
    (mdir / "11_d.up.sql").write_text("CREATE TABLE d (id int);")
    result = migrate(database, mdir)
    assert result.code == 3
    line = result.find(CHECKSUM_MISMATCH)
    assert line["filename"] == "1_a.up.sql"
    assert line["storedChecksum"] != line["currentChecksum"]
    assert "DELETE FROM schema_migrations" in line["suggestion"]
    assert not table_exists(database, "d")


def test_syntax_error_keeps_earlier_files_and_names_the_line(database: str, tmp_path: Path) -> None:
    mdir = folder(
        tmp_path,
        {
            "1_a.up.sql": "CREATE TABLE a (id int);",
            "2_bad.up.sql": "CREATE TABLE b (id int);\n\nCRATE TABLE x (id int);\n",
            "3_c.up.sql": "CREATE TABLE c (id int);",
        },
    )
    result = migrate(database, mdir)
    assert result.code == 3
    line = result.find(MIGRATION_FAILED)
    assert line["filename"] == "2_bad.up.sql"
    assert line["error"] == 'syntax error at or near "CRATE"'
    assert (line["line"], line["exitCode"]) == (3, 3)
    assert tracked(database) == ["1_a.up.sql"]
    assert not table_exists(database, "b") and not table_exists(database, "c")


def test_runtime_error_rolls_back_the_file(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {"1_a.up.sql": "CREATE TABLE a (id int);\nSELECT 1/0;\n"})
    result = migrate(database, mdir)
    assert result.code == 3
    assert result.find(MIGRATION_FAILED)["error"] == "division by zero"
    assert not table_exists(database, "a")
    assert tracked(database) == []


def test_eight_concurrent_runs_apply_each_file_once(database: str, tmp_path: Path) -> None:
    files = {
        f"{n}_t{n}.up.sql": f"CREATE TABLE t{n} (id int); SELECT pg_sleep(0.05);"
        for n in range(1, 7)
    }
    mdir = folder(tmp_path, files)
    env = inv_env(DATABASE_URL=database, MIGRATIONS_DIR=str(mdir))
    procs = [
        subprocess.Popen([INV, "migrate"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]  # fmt: skip
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, outputs
    assert "duplicate key" not in "".join(out + err for out, err in outputs)
    assert sorted(tracked(database)) == sorted(files)
    applied = sum(
        1 for out, _ in outputs for line in parse_lines(out) if line["message"] == APPLIED
    )
    assert applied == 6


def _start(database: str, mdir: Path) -> subprocess.Popen[str]:
    env = inv_env(DATABASE_URL=database, MIGRATIONS_DIR=str(mdir))
    return subprocess.Popen([INV, "migrate"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _wait_for_sleep(database: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # pg_stat_activity is server-wide: only this test's database counts (CI shares it).
        rows = query(database, "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' "
                               "AND datname = current_database() "
                               "AND pid <> pg_backend_pid() AND state = 'active'")  # fmt: skip
        if rows:
            return
        time.sleep(0.1)
    raise AssertionError("the migration never started")


SLOW = {
    "1_a.up.sql": "CREATE TABLE a (id int);",
    "2_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n",
}


@pytest.mark.slow
def test_sigkill_mid_migration_leaves_no_trace(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, SLOW)
    proc = _start(database, mdir)
    _wait_for_sleep(database)
    proc.kill()
    proc.communicate(timeout=30)
    query(database, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")  # fmt: skip
    time.sleep(0.5)
    assert tracked(database) == ["1_a.up.sql"]
    assert not table_exists(database, "slow")
    (mdir / "2_slow.up.sql").write_text("CREATE TABLE slow (id int);\n")
    result = migrate(database, mdir)
    assert result.code == 0
    assert tracked(database) == ["1_a.up.sql", "2_slow.up.sql"]


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_roll_back_the_file_in_flight(
    database: str, tmp_path: Path, sig: int, code: int
) -> None:
    mdir = folder(tmp_path, SLOW)
    proc = _start(database, mdir)
    _wait_for_sleep(database)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, (out, err)
    assert "Traceback" not in err
    assert parse_lines(out)[-1]["exitCode"] == code
    assert tracked(database) == ["1_a.up.sql"]
    assert not table_exists(database, "slow")


def test_no_transaction_file_with_create_index_concurrently(database: str, tmp_path: Path) -> None:
    mdir = folder(
        tmp_path,
        {
            "1_t.up.sql": "CREATE TABLE t (x text);",
            "2_idx.up.sql": "-- provision:no-transaction\n"
            "CREATE INDEX CONCURRENTLY t_x_idx ON t (x);\n"
            "INSERT INTO t VALUES ('a;b'); -- a ; comment\n",
        },
    )
    result = migrate(database, mdir)
    assert result.code == 0, result.stdout
    assert table_exists(database, "t_x_idx")
    assert query(database, "SELECT x FROM t") == [("a;b",)]
    assert tracked(database) == ["1_t.up.sql", "2_idx.up.sql"]


def test_no_transaction_failure_reports_line_and_leaves_no_row(
    database: str, tmp_path: Path
) -> None:
    mdir = folder(
        tmp_path,
        {"1_x.up.sql": "-- provision:no-transaction\nCREATE TABLE t (x int);\nSELECT 1/0;\n"},
    )
    result = migrate(database, mdir)
    assert result.code == 3
    line = result.find(MIGRATION_FAILED)
    assert line["line"] == 3
    assert "stay applied" in line["suggestion"]
    assert table_exists(database, "t")  # documented: earlier statements stay
    assert tracked(database) == []


def test_dollar_quotes_strings_comments_bom_crlf_and_rows(database: str, tmp_path: Path) -> None:
    body = (
        "CREATE FUNCTION f() RETURNS text LANGUAGE plpgsql AS $fn$\n"
        "BEGIN\n  RETURN 'x; COMMIT; y'; -- rollback;\nEND;\n$fn$;\n"
        "CREATE TABLE s (v text); /* ; COMMIT; */\n"
        "INSERT INTO s VALUES ('semi;colon'), ($$dollar;$$);\n"
    )
    mdir = folder(
        tmp_path,
        {
            "1_fn.up.sql": body,
            "2_bom.up.sql": b"\xef\xbb\xbfCREATE TABLE bom (id int);\r\n"
            b"INSERT INTO bom VALUES (1);\r\n",
            "3_rows.up.sql": "SELECT generate_series(1, 3);",
        },
    )
    result = migrate(database, mdir)
    assert result.code == 0, result.stdout
    assert query(database, "SELECT f()") == [("x; COMMIT; y",)]
    assert query(database, "SELECT count(*) FROM s") == [(2,)]
    assert query(database, "SELECT id FROM bom") == [(1,)]
    assert len(tracked(database)) == 3


@pytest.mark.parametrize(
    ("files", "rule"),
    [
        ({"1_a.up.sql": "SELECT 1;", "001_b.up.sql": "SELECT 1;"}, "same number"),
        ({"1_a.up.sql": "SELECT 1;", "create.up.sql": "SELECT 1;"}, "does not follow"),
        ({"1_a.up.sql": "SELECT 1;", "2_b.up.sql": b"SELECT '\xff';"}, "UTF-8"),
        ({"1_a.up.sql": "SELECT 1;", "2_b.up.sql": "-- nothing yet\n"}, "empty"),
        ({"1_a.up.sql": "CREATE TABLE a (id int);", "2_b.up.sql": "SELECT 1;\nCOMMIT;\n"},
         "transaction control"),
        ({"1_a.up.sql": "CREATE TABLE a (id int);", "2_b.up.sql": "\\i other.sql\n"},
         "psql meta-command"),
    ],
)  # fmt: skip
def test_bad_folders_are_refused_before_anything(
    database: str, tmp_path: Path, files: dict[str, Any], rule: str
) -> None:
    result = migrate(database, folder(tmp_path, files))
    assert result.code == 3, result.stdout
    error = result.lines[-1]
    assert rule in error["message"]
    assert error["filename"] in files
    assert not table_exists(database, "a")


def test_symlink_outside_is_refused(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {"1_a.up.sql": "SELECT 1;"})
    (tmp_path / "outside.sql").write_text("SELECT 2;")
    (mdir / "2_b.up.sql").symlink_to(tmp_path / "outside.sql")
    result = migrate(database, mdir)
    assert result.code == 3
    assert result.lines[-1]["filename"] == "2_b.up.sql"


def test_out_of_order_and_missing_file_warn(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {"1_a.up.sql": "SELECT 1;", "3_c.up.sql": "SELECT 3;"})
    assert migrate(database, mdir).code == 0
    (mdir / "2_b.up.sql").write_text("CREATE TABLE b (id int);")
    (mdir / "1_a.up.sql").unlink()
    result = migrate(database, mdir)
    assert result.code == 0
    assert result.find(OUT_OF_ORDER)["filename"] == "2_b.up.sql"
    assert result.find(OUT_OF_ORDER)["level"] == "warn"
    assert result.find(MISSING_FILE)["filename"] == "1_a.up.sql"
    assert tracked(database) == ["1_a.up.sql", "3_c.up.sql", "2_b.up.sql"]


def test_dry_run_changes_nothing(database: str, tmp_path: Path) -> None:
    result = migrate(database, folder(tmp_path, BASIC), "--dry-run")
    assert result.code == 0
    assert [line["filename"] for line in result.lines if line["message"] == WOULD_APPLY] == [
        "1_a.up.sql", "2_b.up.sql", "10_c.up.sql",
    ]  # fmt: skip
    assert not table_exists(database, "schema_migrations")
    assert not table_exists(database, "a")


def test_single_transaction_rolls_back_everything(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {**BASIC, "11_bad.up.sql": "SELECT * FROM nowhere;"})
    result = migrate(database, mdir, "--single-transaction")
    assert result.code == 3
    assert result.find(MIGRATION_FAILED)["filename"] == "11_bad.up.sql"
    assert tracked(database) == []
    assert not table_exists(database, "a")
    (mdir / "11_bad.up.sql").write_text("SELECT 1;")
    assert migrate(database, mdir, "--single-transaction").code == 0
    assert len(tracked(database)) == 4


def test_single_transaction_refuses_no_transaction_files(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {"1_a.up.sql": "-- provision:no-transaction\nSELECT 1;"})
    result = migrate(database, mdir, "--single-transaction")
    assert result.code == 3
    assert not table_exists(database, "schema_migrations")  # refused before any change


def test_migration_lock_timeout_names_the_blocking_pid(database: str, tmp_path: Path) -> None:
    mdir = folder(tmp_path, {"1_a.up.sql": "CREATE TABLE a (id int);"})
    assert migrate(database, mdir).code == 0
    (mdir / "2_b.up.sql").write_text("ALTER TABLE a ADD COLUMN x int;")
    with psycopg.connect(database) as holder:
        holder.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        pid = holder.info.backend_pid
        result = migrate(database, mdir, MIGRATION_LOCK_TIMEOUT="300")
        holder.rollback()
    assert result.code == 3
    line = result.find(MIGRATION_FAILED)
    assert line["sqlstate"] == "55P03"
    assert line["blockingPid"] == pid
    assert f"pid {pid}" in line["suggestion"]
    assert tracked(database) == ["1_a.up.sql"]


def test_hand_made_tracking_table_is_accepted(database: str, tmp_path: Path) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(TRACKING_TABLE_DDL)
    result = migrate(database, folder(tmp_path, BASIC))
    assert result.code == 0
    assert "Created the tracking table schema_migrations" not in result.messages()
    assert len(tracked(database)) == 3


def test_role_without_create_gets_the_grant_suggestion(database: str, tmp_path: Path) -> None:
    role = "nexus_nocreate_" + database.rsplit("test_", 1)[1][:8]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
    try:
        url = psycopg.conninfo.make_conninfo(database, user=role, password="pw")
        result = migrate(url, folder(tmp_path, BASIC))
        assert result.code == 3
        assert "GRANT CREATE ON SCHEMA" in result.lines[-1]["suggestion"]
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
