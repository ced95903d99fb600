"""Folder rules, checksums, refusal checks, splitting and the plan: pure, no database."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from provisioning.errors import BadMigrationFileError
from provisioning.migration_files import discover_migrations, is_empty_sql
from provisioning.migrations import AppliedRow, plan_migrations
from provisioning.sql_checks import (
    META_COMMAND,
    TRANSACTION_CONTROL,
    find_meta_command,
    find_transaction_control,
    split_statements,
)
from provisioning.status import MISMATCH, MISSING, PENDING, status_rows


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_orders_by_integer_number_and_pairs_down_files(tmp_path: Path) -> None:
    write(tmp_path, "10_y.up.sql", "SELECT 10;")
    write(tmp_path, "2_x.up.sql", "SELECT 2;")
    write(tmp_path, "2_x.down.sql", "SELECT 0;")
    write(tmp_path, "README.md", "not a migration")
    files = discover_migrations(tmp_path)
    assert [f.filename for f in files] == ["2_x.up.sql", "10_y.up.sql"]
    assert files[0].down_path == tmp_path / "2_x.down.sql"
    assert files[1].down_path is None


def test_checksum_is_sha256_of_raw_bytes_and_marker_read(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf-- provision:no-transaction\r\nSELECT 1;\r\n"
    write(tmp_path, "1_a.up.sql", raw)
    (mf,) = discover_migrations(tmp_path)
    assert mf.checksum == hashlib.sha256(raw).hexdigest()
    assert mf.no_transaction


@pytest.mark.parametrize(
    ("names", "rule"),
    [
        (["1_a.up.sql", "001_b.up.sql"], "same number"),
        (["create_users.up.sql"], "does not follow"),
        (["1_a.sql"], "does not follow"),
        (["1-a.up.sql"], "does not follow"),
    ],
)
def test_bad_names_are_refused(tmp_path: Path, names: list[str], rule: str) -> None:
    for name in names:
        write(tmp_path, name, "SELECT 1;")
    with pytest.raises(BadMigrationFileError) as info:
        discover_migrations(tmp_path)
    assert rule in info.value.message
    assert info.value.fields["filename"] in names


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"SELECT '\xff';", "UTF-8"),
        (b"", "empty"),
        (b"  \n-- only a comment\n/* and /* nested */ block */\n", "empty"),
    ],
)
def test_bad_contents_are_refused(tmp_path: Path, content: bytes, rule: str) -> None:
    write(tmp_path, "1_a.up.sql", content)
    with pytest.raises(BadMigrationFileError, match=rule):
        discover_migrations(tmp_path)


def test_symlink_outside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    outside = write(tmp_path, "elsewhere.sql", "SELECT 1;")
    (folder / "1_a.up.sql").symlink_to(outside)
    with pytest.raises(BadMigrationFileError, match="symlink"):
        discover_migrations(folder)


def test_symlink_inside_the_folder_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, "shared.txt", "SELECT 1;")
    (tmp_path / "1_a.up.sql").symlink_to(tmp_path / "shared.txt")
    assert [f.filename for f in discover_migrations(tmp_path)] == ["1_a.up.sql"]


def test_empty_detection_ignores_comment_words() -> None:
    assert is_empty_sql("-- x\n/* y */")
    assert not is_empty_sql("-- x\nSELECT 1")


def test_transaction_control_found_only_as_a_statement() -> None:
    fine = (
        "SELECT 'commit; rollback;';\n-- COMMIT;\n/* ROLLBACK */\n"
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;\n"
    )
    assert find_transaction_control(fine) is None
    refusal = find_transaction_control("CREATE TABLE a (x int);\n\ncommit;\n")
    assert refusal is not None
    assert (refusal.rule, refusal.line) == (TRANSACTION_CONTROL, 3)
    assert find_transaction_control("SELECT 1;\nROLLBACK;") is not None


def test_meta_commands_found_outside_strings() -> None:
    refusal = find_meta_command("SELECT 1;\n\\i other.sql\n")
    assert refusal is not None
    assert (refusal.rule, refusal.line, refusal.detail) == (META_COMMAND, 2, "\\i other.sql")
    assert find_meta_command("SELECT E'\n\\\\n';") is None


def test_split_respects_dollar_quotes_strings_and_comments() -> None:
    text = (
        "CREATE TABLE t (x text); -- a; comment\n"
        "INSERT INTO t VALUES ('a;b');\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n"
        "CREATE INDEX CONCURRENTLY t_x ON t (x)"
    )
    statements = split_statements(text)
    assert len(statements) == 4
    assert statements[1].text == "INSERT INTO t VALUES ('a;b')"
    assert text[statements[3].offset :].startswith("CREATE INDEX CONCURRENTLY")


def row(id_: int, filename: str, checksum: str) -> AppliedRow:
    return AppliedRow(id_, filename, datetime(2025, 1, 1), checksum)


def test_plan_and_status_rows(tmp_path: Path) -> None:
    for name in ["1_a.up.sql", "2_b.up.sql", "3_c.up.sql", "5_e.up.sql"]:
        write(tmp_path, name, f"SELECT '{name}';")
    files = discover_migrations(tmp_path)
    sums = {f.filename: f.checksum for f in files}
    applied = [
        row(1, "1_a.up.sql", sums["1_a.up.sql"]),
        row(2, "2_b.up.sql", "0" * 64),
        row(3, "4_d.up.sql", "f" * 64),
        row(4, "5_e.up.sql", sums["5_e.up.sql"]),
    ]
    plan = plan_migrations(files, applied)
    assert [m.filename for m in plan.pending] == ["3_c.up.sql"]
    assert [m.filename for m in plan.out_of_order] == ["3_c.up.sql"]
    assert [m.filename for m in plan.mismatches] == ["2_b.up.sql"]
    assert [r.filename for r in plan.missing] == ["4_d.up.sql"]
    states = [(s.filename, s.state) for s in status_rows(files, applied)]
    assert states == [
        ("1_a.up.sql", "applied"),
        ("2_b.up.sql", MISMATCH),
        ("3_c.up.sql", PENDING),
        ("4_d.up.sql", MISSING),
        ("5_e.up.sql", "applied"),
    ]
