"""Helpers for the fault and load tests: a generated corpus, background runs, per-file checks.

Every corpus file N creates table tN, fills it from generate_series and indexes it, so a
kill lands inside real work, not only inside pg_sleep. `file_states` reads, per file, whether
its objects exist and whether its tracking row exists; a file is consistent when both or
neither do (and a present table holds every row).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from conftest import INV, PROJECT_ROOT, inv_env, parse_lines
from psycopg import sql

# pg_throwaway (the throwaway-server helper) lives one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# HARDENING_REPEAT=N multiplies the repetitions of the fault and load tests (a local soak).
REPEAT = max(1, int(os.environ.get("HARDENING_REPEAT", "1")))


def corpus(tmp_path: Path, count: int, rows: int, name: str = "migrations") -> Path:
    """`count` files: CREATE TABLE + INSERT of `rows` generated rows + CREATE INDEX each."""
    folder = tmp_path / name
    folder.mkdir()
    for n in range(1, count + 1):
        (folder / f"{n:03d}_t{n}.up.sql").write_text(
            f"CREATE TABLE t{n} (id int PRIMARY KEY, payload text NOT NULL);\n"
            f"INSERT INTO t{n} SELECT g, md5(g::text) FROM generate_series(1, {rows}) g;\n"
            f"CREATE INDEX t{n}_payload_idx ON t{n} (payload);\n"
            f"COMMENT ON TABLE t{n} IS 'file {n}';\n"
        )
    return folder


def query(database: str, text: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database, autocommit=True) as conn:
        return conn.execute(text, params).fetchall()


def tracked(database: str) -> list[str]:
    if not query(database, "SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0]:
        return []
    return [r[0] for r in query(database, "SELECT filename FROM schema_migrations ORDER BY id")]


@dataclass(frozen=True)
class FileState:
    filename: str
    table: bool
    index: bool
    rows: int
    tracked: int  # tracking rows with this filename

    def consistent(self, expected_rows: int) -> bool:
        if self.tracked == 0:
            return not self.table and not self.index
        return self.tracked == 1 and self.table and self.index and self.rows == expected_rows


def file_states(database: str, count: int) -> list[FileState]:
    """Per file: table and index in pg_class, row count, tracking rows (one snapshot).

    First waits for the sessions of killed runs to end: the backend of a killed run may still
    finish (and commit) the file it was sent. REPEATABLE READ reads everything in one snapshot
    all the same, so a commit landing during the check cannot look like half a file.
    """
    wait_for_orphans(database)
    with psycopg.connect(database) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        has_tracking = conn.execute(
            "SELECT to_regclass('schema_migrations') IS NOT NULL"
        ).fetchone()
        counts: dict[str, int] = {}
        if has_tracking and has_tracking[0]:
            for name, n in conn.execute(
                "SELECT filename, count(*) FROM schema_migrations GROUP BY filename"
            ):
                counts[name] = n
        present = {
            name
            for (name,) in conn.execute(
                "SELECT relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace "
                "WHERE s.nspname = 'public' AND relname ~ '^t[0-9]+(_payload_idx)?$'"
            )
        }
        states = []
        for n in range(1, count + 1):
            table = f"t{n}" in present
            rows = 0
            if table:
                count_rows = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(f"t{n}"))
                row = conn.execute(count_rows).fetchone()
                rows = row[0] if row else 0
            filename = f"{n:03d}_t{n}.up.sql"
            states.append(
                FileState(filename, table, f"t{n}_payload_idx" in present, rows,
                          counts.get(filename, 0))
            )  # fmt: skip
        return states


def wait_for_orphans(database: str, timeout: float = 10) -> None:
    """Wait until no session of the project is connected to the database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            database,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'nexus-provisioning'",
        )
        if rows[0][0] == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"sessions of killed runs still connected after {timeout}s")


def assert_consistent(database: str, count: int, rows: int, context: str = "") -> int:
    """Every file applied with its row, or absent with no row; returns how many are applied."""
    states = file_states(database, count)
    bad = [s for s in states if not s.consistent(rows)]
    assert not bad, f"half-applied files {context}: {bad}"
    return sum(1 for s in states if s.tracked)


def reset_schema(database: str) -> None:
    """Empty the test's own database between cycles."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")


class Run:
    """An `inv` task in the background; its output goes to files (no pipe can fill up)."""

    def __init__(
        self, args: list[str], tmp_path: Path, tag: str, cwd: Path = PROJECT_ROOT, **env: str | None
    ) -> None:
        self.out_path = tmp_path / f"{tag}.out"
        self.err_path = tmp_path / f"{tag}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                [INV, *args], cwd=cwd, env=inv_env(**env),
                stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def lines(self) -> list[dict[str, Any]]:
        return parse_lines(self.stdout)


def wait_for_activity(database: str, like: str, timeout: float = 30) -> int:
    """The pid of the backend of this database running a query LIKE `like` (active)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            database,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE %s AND pid <> pg_backend_pid() AND state = 'active' "
            "AND application_name = 'nexus-provisioning'",
            (like,),
        )
        if rows:
            return int(rows[0][0])
        time.sleep(0.05)
    raise AssertionError(f"no active query like {like!r}")


def backends(database: str) -> int:
    """How many sessions other than this one are connected to the database."""
    rows = query(
        database,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()",
    )
    return int(rows[0][0])


def error_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("level") == "error"]
