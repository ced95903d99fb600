"""Hostile migration folders: names, contents and statements a user (or an attacker) can write.

Pure checks run `discover_migrations` over tmp_path (property-based with hypothesis); the
end-to-end cases run `inv migrate` against a fresh database and assert it is left untouched
(no tracking table, no table) when the folder is refused.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import INV, inv_env, run_inv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioning.errors import BadMigrationFileError, ExitCode
from provisioning.migration_files import (
    BAD_NAME,
    EMPTY,
    NOT_UTF8,
    NUL_BYTE,
    OUTSIDE,
    discover_migrations,
)
from provisioning.sql_checks import META_COMMAND, TRANSACTION_CONTROL

# Every distinct hostile input this module tries is appended here; the README quotes the sum.
CASES: list[str] = []

PATTERN = re.compile(r"^[0-9]+_[A-Za-z0-9][A-Za-z0-9_-]*\.up\.sql$")


def write(folder: Path, name: str, content: str | bytes = "SELECT 1;") -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def fresh(tmp_path: Path, name: str = "migrations") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    return folder


def expected_outcome(name: str) -> str:
    """accepted / refused / ignored: the folder rule, restated independently of the code."""
    if name.startswith("."):
        return "ignored"  # hidden files (editor swap files, .gitkeep) are never migrations
    if PATTERN.match(name):
        return "accepted"
    if re.match(r"^[0-9]+_[A-Za-z0-9][A-Za-z0-9_-]*\.down\.sql$", name):
        return "down"
    if name.lower().endswith(".sql"):
        return "refused"
    return "ignored"  # README.md, notes.txt, backups: not .sql, not a migration


def check_name(tmp_path: Path, name: str) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    try:
        write(folder, name)
    except OSError:  # a name the file system itself refuses (too long): nothing to validate
        return
    outcome = expected_outcome(name)
    if outcome == "refused":
        with pytest.raises(BadMigrationFileError) as info:
            discover_migrations(folder)
        assert info.value.exit_code == ExitCode.MIGRATION == 3
        assert info.value.fields["filename"] == name
        assert BAD_NAME in info.value.message and name in info.value.message
        return
    files = discover_migrations(folder)
    if outcome == "accepted":
        assert [f.filename for f in files] == [name]
        assert files[0].number == int(name.split("_", 1)[0])
    else:
        assert files == []


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=40)  # beyond 64 bits included
DESCRIPTION = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=0, max_size=12
)
SUFFIX = st.sampled_from(
    [".up.sql", ".down.sql", ".UP.SQL", ".up.SQL", ".sql", ".up.sq", ".up.sql ", ".up.sql~",
     ".up..sql", "up.sql", ".up.sql.bak", ".Up.Sql", ".down.SQL", ""]
)  # fmt: skip
PREFIX = st.sampled_from(["", " ", ".", "..", "-", "+", "0", "٣", "①", "x"])
SEPARATOR = st.sampled_from(["_", "-", " ", "__", "", ".", "_."])


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prefix=PREFIX, number=DIGITS, sep=SEPARATOR, description=DESCRIPTION, suffix=SUFFIX)
def test_any_name_is_accepted_exactly_when_it_matches_the_pattern(
    tmp_path: Path, prefix: str, number: str, sep: str, description: str, suffix: str
) -> None:
    name = f"{prefix}{number}{sep}{description}{suffix}"
    if not name or name in (".", "..") or "/" in name:
        return
    check_name(tmp_path, name)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1,
                    max_size=30).map(lambda s: s + ".sql"))  # fmt: skip
def test_any_sql_name_is_accepted_or_refused_never_silently_skipped(
    tmp_path: Path, name: str
) -> None:
    if name in (".sql",) or name.startswith("."):
        return
    check_name(tmp_path, name)


NAMED_NAMES = [
    "1_a.up.sql", "0001_leading_zeros.up.sql", "0_zero.up.sql",
    "123456789012345678901234567890_huge.up.sql",  # far beyond 64 bits: a Python int
    "1_café.up.sql", "١_arabic_digit.up.sql", "1_a b.up.sql", " 1_a.up.sql", "1_a.UP.SQL",
    "1_a.up.SQL", "1_..up.sql", "1_a..up.sql", "1_.up.sql", "_a.up.sql", "1a.up.sql",
    "1_a.up.sql.bak", "1_a.up.sql~", ".1_a.up.sql", "..1_a.up.sql", "1_a.sql", "a_1.up.sql",
    "1_-a.up.sql", "1_a-b_c.up.sql", "1_a.up.sql ", "1_a.upsql", "1_a.down.sql.up.sql",
]  # fmt: skip
CASES += [f"name {n!r}" for n in NAMED_NAMES]


@pytest.mark.parametrize("name", NAMED_NAMES)
def test_named_file_names(tmp_path: Path, name: str) -> None:
    check_name(tmp_path, name)


# --- contents, pure -----------------------------------------------------------------------

BAD_CONTENTS = {
    "binary": (bytes(range(256)) * 4, NOT_UTF8),
    "png header": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", NOT_UTF8),
    "utf-16 with bom": ("CREATE TABLE t (id int);".encode("utf-16"), NOT_UTF8),
    "invalid utf-8": (b"SELECT 'caf\xe9';", NOT_UTF8),
    "overlong utf-8": (b"SELECT '\xc0\xaf';", NOT_UTF8),
    "nul byte": (b"CREATE TABLE t (id int);\x00DROP TABLE t;", NUL_BYTE),
    "nul only": (b"\x00", NUL_BYTE),
    "nul after bom": (b"\xef\xbb\xbf\x00SELECT 1;", NUL_BYTE),
    "empty": (b"", EMPTY),
    "whitespace": (b" \t\r\n\r\n", EMPTY),
    "bom only": (b"\xef\xbb\xbf", EMPTY),
    "comments only": (b"-- a\n/* b /* nested */ c */\n-- COMMIT;\n", EMPTY),
    "crlf comments only": (b"-- a\r\n-- b\r\n", EMPTY),
}
CASES += [f"content {k}" for k in BAD_CONTENTS]


@pytest.mark.parametrize("kind", BAD_CONTENTS)
def test_bad_contents_are_refused_naming_the_file(tmp_path: Path, kind: str) -> None:
    content, rule = BAD_CONTENTS[kind]
    write(tmp_path, "1_ok.up.sql")
    write(tmp_path, "2_bad.up.sql", content)
    with pytest.raises(BadMigrationFileError) as info:
        discover_migrations(tmp_path)
    assert info.value.exit_code == 3
    assert info.value.fields["filename"] == "2_bad.up.sql"
    assert rule in info.value.message and "2_bad.up.sql" in info.value.message


def test_bom_and_crlf_are_accepted_and_change_the_checksum(tmp_path: Path) -> None:
    plain = b"CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"
    variants = {
        "1_plain.up.sql": plain,
        "2_bom.up.sql": b"\xef\xbb\xbf" + plain,
        "3_crlf.up.sql": plain.replace(b"\n", b"\r\n"),
        "4_both.up.sql": b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n"),
    }
    for name, data in variants.items():
        write(tmp_path, name, data)
    files = discover_migrations(tmp_path)
    sums = {f.filename: f.checksum for f in files}
    for name, data in variants.items():
        assert sums[name] == hashlib.sha256(data).hexdigest()  # raw bytes, nothing normalised
    assert len(set(sums.values())) == 4  # so converting line endings is an edit


def test_orphan_down_and_numberless_files(tmp_path: Path) -> None:
    write(tmp_path, "1_a.up.sql")
    write(tmp_path, "7_lonely.down.sql")
    assert [f.filename for f in discover_migrations(tmp_path)] == ["1_a.up.sql"]  # a warning
    write(tmp_path, "create_users.up.sql")
    with pytest.raises(BadMigrationFileError, match=r"create_users\.up\.sql"):
        discover_migrations(tmp_path)


def test_symlinks(tmp_path: Path) -> None:
    folder = fresh(tmp_path)
    secret = write(tmp_path, "passwd.sql", "SELECT 'outside';")
    write(folder, "shared.txt", "SELECT 'inside';")
    (folder / "1_in.up.sql").symlink_to(folder / "shared.txt")  # inside: accepted
    assert [f.filename for f in discover_migrations(folder)] == ["1_in.up.sql"]
    for target in (secret, Path("/etc/hostname"), tmp_path / "missing.sql"):
        link = folder / "2_out.up.sql"
        link.symlink_to(target)
        with pytest.raises(BadMigrationFileError) as info:
            discover_migrations(folder)
        assert OUTSIDE in info.value.message and info.value.fields["filename"] == "2_out.up.sql"
        link.unlink()
    (folder / "2_rel.up.sql").symlink_to("../passwd.sql")  # relative, through ..
    with pytest.raises(BadMigrationFileError, match=OUTSIDE):
        discover_migrations(folder)
    (folder / "2_rel.up.sql").unlink()
    (folder / "sub").symlink_to(tmp_path)  # a directory link pointing out: refused too
    with pytest.raises(BadMigrationFileError, match=OUTSIDE):
        discover_migrations(folder)


# --- end to end: inv migrate leaves a refused database untouched ----------------------------


def query(url: str, text: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(text).fetchall()


def user_tables(url: str) -> list[str]:
    rows = query(
        url,
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE relkind IN ('r', 'p', 'v', 'm') "
        "AND nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND nspname NOT LIKE 'pg_%' "
        "ORDER BY relname",
    )
    return [r[0] for r in rows]


def migrate(url: str, folder: Path, *args: str) -> Any:
    return run_inv("migrate", *args, DATABASE_URL=url, MIGRATIONS_DIR=str(folder))


def assert_refused_untouched(result: Any, url: str, filename: str, words: str) -> None:
    assert result.code == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    error = result.lines[-1]
    assert error["level"] == "error" and error["exitCode"] == 3 and error["suggestion"]
    assert error.get("filename") == filename, error
    assert words in error["message"]
    assert user_tables(url) == []  # no tracking table, no table of the good files


REFUSED_STATEMENTS = {
    "commit": ("SELECT 1;\nCOMMIT;\n", TRANSACTION_CONTROL),
    "rollback": ("CREATE TABLE x (id int);\nROLLBACK;\nSELECT 2;", TRANSACTION_CONTROL),
    "end": ("CREATE TABLE x (id int);\nEND;\n", TRANSACTION_CONTROL),
    "abort": ("CREATE TABLE x (id int);\nabort;\n", TRANSACTION_CONTROL),
    "commit and chain": ("CREATE TABLE x (id int);\nCOMMIT AND CHAIN;\n", TRANSACTION_CONTROL),
    "commit work": ("CREATE TABLE x (id int);\n  commit work ;\n", TRANSACTION_CONTROL),
    "rollback mid-line": ("CREATE TABLE x (id int); ROLLBACK; SELECT 1;", TRANSACTION_CONTROL),
    "prepare transaction": ("SELECT 1;\nPREPARE TRANSACTION 'p';\n", TRANSACTION_CONTROL),
    "commit prepared": ("COMMIT PREPARED 'p';\n", TRANSACTION_CONTROL),
    "\\i": ("\\i /etc/passwd\n", META_COMMAND),
    "\\ir": ("SELECT 1;\n\\ir other.sql\n", META_COMMAND),
    "\\set": ("\\set ON_ERROR_STOP on\nCREATE TABLE x (id int);", META_COMMAND),
    "\\connect": ("\\connect postgres\nDROP DATABASE x;", META_COMMAND),
    "\\c": ("\\c other\n", META_COMMAND),
    "\\copy": ("CREATE TABLE x (id int);\n\\copy x FROM 'data.csv' csv\n", META_COMMAND),
    "\\gexec": ("SELECT 'CREATE TABLE x (id int)'\n\\gexec\n", META_COMMAND),
    "\\! shell": ("\\! rm -rf /\n", META_COMMAND),
    "\\o": ("  \\o /tmp/out\nSELECT 1;", META_COMMAND),
    "\\echo": ("\\echo hello\n", META_COMMAND),
}  # fmt: skip
CASES += [f"statement {k}" for k in REFUSED_STATEMENTS]


@pytest.mark.parametrize("kind", REFUSED_STATEMENTS)
def test_refused_statements_leave_the_database_untouched(
    database: str, tmp_path: Path, kind: str
) -> None:
    text, rule = REFUSED_STATEMENTS[kind]
    folder = fresh(tmp_path)
    write(folder, "1_good.up.sql", "CREATE TABLE good (id int);")
    write(folder, "2_bad.up.sql", text)
    result = migrate(database, folder)
    assert_refused_untouched(result, database, "2_bad.up.sql", rule)
    assert result.lines[-1]["line"] >= 1
    if rule == META_COMMAND:
        assert "psql meta-command" in result.lines[-1]["message"]


E2E_BAD = {
    "nul": b"CREATE TABLE t (id int);\x00\nDROP TABLE good;",
    "binary": bytes(range(256)),
    "invalid utf-8": b"CREATE TABLE t (v text DEFAULT '\xff');",
    "comments only": b"-- TODO\n/* later */\n",
}


@pytest.mark.parametrize("kind", E2E_BAD)
def test_bad_contents_end_to_end(database: str, tmp_path: Path, kind: str) -> None:
    folder = fresh(tmp_path)
    write(folder, "1_good.up.sql", "CREATE TABLE good (id int);")
    write(folder, "2_bad.up.sql", E2E_BAD[kind])
    assert_refused_untouched(migrate(database, folder), database, "2_bad.up.sql", "2_bad.up.sql")


def test_bad_names_and_symlink_end_to_end(database: str, tmp_path: Path) -> None:
    for bad in ("1_café.up.sql", "2_a.UP.SQL", "create_users.up.sql", "3 space.up.sql"):
        folder = fresh(tmp_path, f"m{abs(hash(bad))}")
        write(folder, "0_good.up.sql", "CREATE TABLE good (id int);")
        write(folder, bad)
        assert_refused_untouched(migrate(database, folder), database, bad, BAD_NAME)
    folder = fresh(tmp_path, "links")
    write(folder, "0_good.up.sql", "CREATE TABLE good (id int);")
    (tmp_path / "outside.sql").write_text("CREATE TABLE stolen (id int);")
    (folder / "1_link.up.sql").symlink_to(tmp_path / "outside.sql")
    assert_refused_untouched(migrate(database, folder), database, "1_link.up.sql", OUTSIDE)


def test_commit_in_a_later_file_keeps_earlier_tracking_rows_atomic(
    database: str, tmp_path: Path
) -> None:
    folder = fresh(tmp_path)
    write(folder, "1_a.up.sql", "CREATE TABLE a (id int);")
    assert migrate(database, folder).code == 0
    write(folder, "2_b.up.sql", "CREATE TABLE b (id int);\nCOMMIT;\nCREATE TABLE c (id int);")
    result = migrate(database, folder)
    assert result.code == 3 and result.lines[-1]["filename"] == "2_b.up.sql"
    assert user_tables(database) == ["a", "schema_migrations"]
    assert query(database, "SELECT filename FROM schema_migrations") == [("1_a.up.sql",)]


WORDS_INSIDE = """\
CREATE TABLE "commit" ("rollback" int, "end" text, abort text);
COMMENT ON TABLE "commit" IS 'COMMIT; ROLLBACK; END; ABORT; \\i x';
INSERT INTO "commit" VALUES (1, $$END;$$, E'commit;\\nrollback;' || $tag$ ABORT; \\set x $tag$);
-- COMMIT;
/* ROLLBACK; \\connect other */
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body$
BEGIN
  -- a procedure may COMMIT; a function body is not the file's own statement
  PERFORM 1; RAISE NOTICE 'rollback; end; \\i';
END
$body$;
CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN COMMIT; END $$;
DO $$ BEGIN PERFORM 'END;'; END $$;
SELECT 1 AS "end", 'x' AS rollback_count;
"""


def test_words_inside_strings_comments_bodies_and_identifiers_are_accepted(
    database: str, tmp_path: Path
) -> None:
    folder = fresh(tmp_path)
    write(folder, "1_words.up.sql", WORDS_INSIDE)
    write(folder, "2_rows.up.sql", "SELECT generate_series(1, 1000) AS n;\nVALUES (1), (2);")
    result = migrate(database, folder)
    assert result.code == 0, result.stdout + result.stderr
    assert query(database, 'SELECT "end" FROM "commit"') == [("END;",)]
    assert len(query(database, "SELECT filename FROM schema_migrations")) == 2


def test_bom_and_crlf_apply_and_are_checked_against_raw_bytes(
    database: str, tmp_path: Path
) -> None:
    folder = fresh(tmp_path)
    raw = b"\xef\xbb\xbfCREATE TABLE crlf (id int);\r\nINSERT INTO crlf VALUES (1);\r\n"
    write(folder, "1_crlf.up.sql", raw)
    assert migrate(database, folder).code == 0
    stored = query(database, "SELECT checksum FROM schema_migrations")[0][0]
    assert stored == hashlib.sha256(raw).hexdigest()
    write(folder, "1_crlf.up.sql", raw[3:].replace(b"\r\n", b"\n"))  # an editor "fixes" it
    result = migrate(database, folder)
    assert result.code == 3 and result.find("Migration checksum mismatch")


@pytest.mark.slow
def test_a_20_mb_migration_applies_with_sane_memory(database: str, tmp_path: Path) -> None:
    folder = fresh(tmp_path)
    row = "INSERT INTO big (v) VALUES ('" + "x" * 200 + "');\n"
    body = "CREATE TABLE big (v text);\n" + row * (20 * 1024 * 1024 // len(row) + 1)
    write(folder, "1_big.up.sql", body)
    assert (folder / "1_big.up.sql").stat().st_size >= 20 * 1024 * 1024
    script = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(p.returncode)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, INV, "migrate"],
        env=inv_env(DATABASE_URL=database, MIGRATIONS_DIR=str(folder)),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    peak_mb = int(proc.stdout.strip().splitlines()[-1]) / 1024
    assert peak_mb < 400, f"peak RSS {peak_mb:.0f} MB for a 20 MB file"
    assert query(database, "SELECT count(*) FROM big")[0][0] > 90_000


def test_missing_migrations_folder_is_exit_3_naming_it(database: str, tmp_path: Path) -> None:
    for target in (tmp_path / "nope", write(tmp_path, "a_file.txt")):
        result = migrate(database, target)
        assert result.code == 3, result.stdout
        line = result.lines[-1]
        assert line["message"] == "Migrations folder not found" and line["path"] == str(target)
        assert "MIGRATIONS_DIR" in line["suggestion"]
    assert user_tables(database) == []


OTHER_CASES = [
    "BOM", "CRLF", "BOM+CRLF", "down without up", "up without number", "symlink inside",
    "symlink outside absolute", "symlink to /etc", "dangling symlink", "symlink outside via ..",
    "directory symlink outside", "COMMIT after an applied file", "words inside strings etc.",
    "migration returning rows", "edited line endings after apply", "20 MB migration",
    "MIGRATIONS_DIR missing", "MIGRATIONS_DIR is a file",
]  # fmt: skip
CASES += [f"e2e {k}" for k in E2E_BAD] + OTHER_CASES
GENERATED_NAMES = 400 + 200  # hypothesis examples per run (max_examples above)


def test_the_readme_figure_is_what_this_module_tries() -> None:
    assert len(set(CASES)) == len(CASES) >= 80  # README: "Hostile input, secrets ..."
