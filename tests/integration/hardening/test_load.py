"""Load: 16 concurrent `inv provision` on one fresh database, lock-timeout waiters, and a
5,000-file migrations folder. HARDENING_REPEAT multiplies the repetitions of the first two.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT, run_inv
from faults_support import REPEAT, Run, error_lines, query, reset_schema, tracked

from provisioning.applying import APPLIED
from provisioning.db import LOCK_TIMEOUT, LOCK_WAITING
from provisioning.migrate import WOULD_APPLY
from provisioning.status import STATUS_LINE, STATUS_SUMMARY

PROCESSES = 16
SHIPPED = sorted(p.name for p in (PROJECT_ROOT / "migrations").glob("*.up.sql"))
# What one provision seeds: (table, total rows, distinct natural keys).
SEEDED = {
    "organizations": "SELECT count(*), count(DISTINCT slug) FROM organizations",
    "users": "SELECT count(*), count(DISTINCT lower(email)) FROM users",
    "projects": "SELECT count(*), count(DISTINCT (organization_id, key)) FROM projects",
    "tasks": "SELECT count(*), count(DISTINCT (project_id, title)) FROM tasks",
}


def _seed_counts(database: str) -> dict[str, tuple[int, int]]:
    return {table: tuple(query(database, text)[0]) for table, text in SEEDED.items()}  # type: ignore[misc]


@pytest.mark.slow
def test_sixteen_concurrent_provisions(database: str, tmp_path: Path) -> None:
    """All exit 0, each file applied once, no duplicate key or deadlock, seeds not doubled."""
    reference = Run(["provision"], tmp_path, "reference", DATABASE_URL=database)
    assert reference.wait() == 0, reference.stdout
    expected = _seed_counts(database)
    assert all(total == distinct > 0 for total, distinct in expected.values()), expected
    for attempt in range(REPEAT):
        reset_schema(database)
        runs = [
            Run(["provision"], tmp_path, f"p{attempt}-{n}", DATABASE_URL=database)
            for n in range(PROCESSES)
        ]
        codes = [run.wait(timeout=300) for run in runs]
        output = "".join(run.stdout + run.stderr for run in runs)
        assert codes == [0] * PROCESSES, output
        assert "duplicate key" not in output and "deadlock" not in output
        assert "Traceback" not in output
        unexpected = [line for run in runs for line in run.lines()
                      if line["level"] != "info" and line["message"] != LOCK_WAITING]  # fmt: skip
        assert not unexpected
        counts = query(database, "SELECT filename, count(*) FROM schema_migrations GROUP BY 1")
        assert sorted(counts) == [(name, 1) for name in SHIPPED]
        applied = [line["filename"] for run in runs for line in run.lines()
                   if line["message"] == APPLIED]  # fmt: skip
        assert sorted(applied) == SHIPPED  # each file applied by exactly one process
        assert _seed_counts(database) == expected


@pytest.mark.slow
def test_waiters_time_out_naming_the_holder(database: str, tmp_path: Path) -> None:
    """DB_LOCK_TIMEOUT shorter than the run: waiters exit 3 naming the holder's pid."""
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    (mdir / "1_a.up.sql").write_text("CREATE TABLE a (id int);")
    (mdir / "2_slow.up.sql").write_text("CREATE TABLE slow (id int);\nSELECT pg_sleep(15);\n")
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir), "SKIP_SEED": "true",
           "DB_LOCK_TIMEOUT": "2000"}  # fmt: skip
    for attempt in range(REPEAT):
        reset_schema(database)
        runs = [Run(["provision"], tmp_path, f"w{attempt}-{n}", **env) for n in range(PROCESSES)]
        holder_pid = None
        deadline = time.monotonic() + 30
        while holder_pid is None and time.monotonic() < deadline:
            rows = query(
                database,
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'nexus-provisioning' "
                "AND query LIKE '%pg_sleep(15)%' AND state = 'active' "
                "AND datname = current_database()",
            )
            holder_pid = rows[0][0] if rows else None
            time.sleep(0.05)
        assert holder_pid is not None
        codes = [run.wait(timeout=120) for run in runs]
        assert sorted(codes) == [0] + [3] * (PROCESSES - 1), codes
        for run, code in zip(runs, codes, strict=True):
            errors = error_lines(run.lines())
            if code == 0:
                assert not errors
                applied = [line["filename"] for line in run.lines() if line["message"] == APPLIED]
                assert applied == ["1_a.up.sql", "2_slow.up.sql"]
                continue
            assert len(errors) == 1, run.stdout
            line = errors[0]
            assert line["message"] == LOCK_TIMEOUT.format(ms=2000) and line["exitCode"] == 3
            assert line["holderPid"] == holder_pid
            assert f"pid {holder_pid}" in line["suggestion"]
            assert "Traceback" not in run.stderr
        assert tracked(database) == ["1_a.up.sql", "2_slow.up.sql"]


FILES = 5000


@pytest.fixture
def big_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(1, FILES + 1):
        (folder / f"{n:05d}_m{n}.up.sql").write_text(f"CREATE TABLE m{n} (id int);\n")
    return folder


def _states(result_lines: list[dict[str, object]]) -> list[object]:
    return [line["state"] for line in result_lines if line["message"] == STATUS_LINE]


@pytest.mark.slow
def test_five_thousand_files(database: str, big_folder: Path) -> None:
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(big_folder)}
    dry = run_inv("migrate", "--dry-run", timeout=300, **env)
    assert dry.code == 0, dry.stdout[-2000:]
    would = [line["filename"] for line in dry.lines if line["message"] == WOULD_APPLY]
    assert would == [f"{n:05d}_m{n}.up.sql" for n in range(1, FILES + 1)]
    assert tracked(database) == []

    before = run_inv("status", timeout=300, **env)
    assert before.code == 0
    assert _states(before.lines) == ["pending"] * FILES
    assert before.find(STATUS_SUMMARY)["pending"] == FILES

    applied = run_inv("migrate", timeout=600, **env)
    assert applied.code == 0, applied.stdout[-2000:]
    assert len(tracked(database)) == FILES

    after = run_inv("status", timeout=300, **env)
    states = [line for line in after.lines if line["message"] == STATUS_LINE]
    assert len(states) == FILES
    assert all(line["state"] == "applied" and line["appliedAt"] for line in states)
    summary = after.find(STATUS_SUMMARY)
    assert (summary["total"], summary["applied"], summary["pending"]) == (FILES, FILES, 0)


@pytest.mark.slow
def test_concurrent_provisions_do_not_seed_twice(database: str, tmp_path: Path) -> None:
    """Seeds whose idempotency is `WHERE NOT EXISTS` (no unique key) and a unique-keyed one,
    slow enough that 16 seed transactions overlap unless the runs serialize them."""
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    (mdir / "1_tables.up.sql").write_text(
        "CREATE TABLE notes (title text NOT NULL);\nCREATE TABLE tags (name text PRIMARY KEY);\n"
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "1_notes.sql").write_text(
        "INSERT INTO notes SELECT v FROM (VALUES ('a'), ('b')) AS s (v)\n"
        "WHERE NOT EXISTS (SELECT 1 FROM notes n WHERE n.title = s.v);\n"
        "SELECT pg_sleep(1);  -- the seed transaction stays open, uncommitted\n"
    )
    (seeds / "2_tags.sql").write_text(
        "INSERT INTO tags SELECT v FROM (VALUES ('x'), ('y')) AS s (v)\n"
        "WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.name = s.v);\n"
    )
    env = {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir), "SEEDS_DIR": str(seeds)}
    for attempt in range(REPEAT):
        reset_schema(database)
        runs = [Run(["provision"], tmp_path, f"s{attempt}-{n}", **env) for n in range(PROCESSES)]
        codes = [run.wait(timeout=300) for run in runs]
        output = "".join(run.stdout + run.stderr for run in runs)
        assert codes == [0] * PROCESSES, output
        assert "duplicate key" not in output and "deadlock" not in output
        assert "Database seed failed" not in output
        assert query(database, "SELECT title, count(*) FROM notes GROUP BY 1 ORDER BY 1") == [
            ("a", 1), ("b", 1),
        ]  # fmt: skip
        assert query(database, "SELECT count(*) FROM tags") == [(2,)]
