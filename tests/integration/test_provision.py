"""`inv provision` and `inv seed` end to end against real PostgreSQL."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import psycopg
import pytest
from conftest import PROJECT_ROOT, run_inv

from provisioning.pipeline import PROVISION_COMPLETED, SEED_FAILED_NON_FATAL
from provisioning.seeding import SEED_FAILED, SEED_FILE_APPLIED, SEED_SKIPPED

SEEDS = PROJECT_ROOT / "seeds"
MIGRATIONS = PROJECT_ROOT / "migrations"


@pytest.fixture
def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # test-owned names
        assert row is not None
        return int(row[0])


def test_provision_fresh_then_idempotent(database: str) -> None:
    first = run_inv("provision", DATABASE_URL=database)
    assert first.code == 0, first.stdout + first.stderr
    summary = first.lines[-1]
    assert summary["message"] == PROVISION_COMPLETED
    assert summary["level"] == "info"
    assert summary["migrationsApplied"] == 5
    assert summary["readinessAttempts"] == 1
    assert summary["seeded"] is True
    assert isinstance(summary["durationSeconds"], int | float)
    per_file = {line["filename"]: line["rowsInserted"] for line in first.lines
                if line["message"] == SEED_FILE_APPLIED}  # fmt: skip
    assert per_file == {"001_organizations.sql": 3, "002_users.sql": 8,
                        "003_projects.sql": 6, "004_tasks.sql": 10}  # fmt: skip
    assert count(database, "tasks") == 10

    again = run_inv("provision", DATABASE_URL=database)
    assert again.code == 0, again.stdout
    assert again.lines[-1]["message"] == PROVISION_COMPLETED
    assert again.lines[-1]["migrationsApplied"] == 0
    assert again.lines[-1]["seedRowsInserted"] == 0
    assert all(line["rowsInserted"] == 0 for line in again.lines
               if line["message"] == SEED_FILE_APPLIED)  # fmt: skip
    assert count(database, "organizations") == 3
    assert count(database, "schema_migrations") == 5


def test_ci_recipe_skips_seed(database: str) -> None:
    result = run_inv("provision", DATABASE_URL=database, DB_TIMEOUT="180000", SKIP_SEED="true")
    assert result.code == 0, result.stdout
    assert result.find(SEED_SKIPPED)["reason"] == "SKIP_SEED is set"
    assert result.lines[-1]["message"] == PROVISION_COMPLETED
    assert result.lines[-1]["seeded"] is False
    assert count(database, "organizations") == 0


def test_skip_seed_flag_and_seed_task(database: str) -> None:
    assert run_inv("provision", "--skip-seed", DATABASE_URL=database).lines[-1]["seeded"] is False
    skipped = run_inv("seed", "--skip", DATABASE_URL=database)
    assert skipped.code == 0
    assert skipped.find(SEED_SKIPPED)
    assert count(database, "organizations") == 0
    seeded = run_inv("seed", DATABASE_URL=database)
    assert seeded.code == 0, seeded.stdout
    assert count(database, "users") == 8
    assert (
        run_inv("seed", DATABASE_URL=database).find("Database seed completed")["rowsInserted"] == 0
    )


def test_production_skips_seed_unless_told(database: str) -> None:
    prod = run_inv("provision", DATABASE_URL=database, APP_ENV="production")
    assert prod.code == 0, prod.stdout
    assert "APP_ENV=production" in prod.find(SEED_SKIPPED)["reason"]
    assert count(database, "organizations") == 0
    told = run_inv("seed", DATABASE_URL=database, APP_ENV="production", SKIP_SEED="false")
    assert told.code == 0, told.stdout
    assert count(database, "organizations") == 3


def test_unreachable_server_exits_2(free_port: int) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port}/nowhere"
    result = run_inv("provision", DATABASE_URL=url, DB_TIMEOUT="1500", DB_BACKOFF_BASE_MS="100")
    assert result.code == 2, result.stdout
    last = result.lines[-1]
    assert last["level"] == "error" and last["exitCode"] == 2 and last["suggestion"]
    assert PROVISION_COMPLETED not in result.messages()


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    return folder


def test_broken_migration_exits_3(database: str, tmp_path: Path) -> None:
    folder = _copy_migrations(tmp_path)
    (folder / "006_broken.up.sql").write_text("CRATE TABLE invoices (id int);\n")
    result = run_inv("provision", DATABASE_URL=database, MIGRATIONS_DIR=str(folder))
    assert result.code == 3, result.stdout
    last = result.lines[-1]
    assert last["message"] == "Migration failed" and last["exitCode"] == 3
    assert last["filename"] == "006_broken.up.sql" and "CRATE" in last["error"]
    assert count(database, "schema_migrations") == 5
    assert count(database, "organizations") == 0  # the seed never ran


@pytest.fixture
def broken_seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    shutil.copy(SEEDS / "001_organizations.sql", folder)
    (folder / "002_broken.sql").write_text(
        "INSERT INTO organizations (slug, name) VALUES ('extra', 'Extra');\n"
        "INSERT INTO users (organization_id, email) VALUES (1, 'x@example.com');\n"
    )
    return folder


def test_broken_seed_is_non_fatal_in_provision(database: str, broken_seeds: Path) -> None:
    result = run_inv("provision", DATABASE_URL=database, SEEDS_DIR=str(broken_seeds))
    assert result.code == 0, result.stdout
    warning = result.find(SEED_FAILED_NON_FATAL)
    assert warning["level"] == "warn"
    assert warning["filename"] == "002_broken.sql"
    assert "display_name" in warning["error"]
    assert result.lines[-1]["message"] == PROVISION_COMPLETED
    assert result.lines[-1]["seeded"] is False
    assert count(database, "organizations") == 0  # the whole seed rolled back


def test_broken_seed_alone_exits_1(database: str, broken_seeds: Path) -> None:
    assert run_inv("migrate", DATABASE_URL=database).code == 0
    result = run_inv("seed", DATABASE_URL=database, SEEDS_DIR=str(broken_seeds))
    assert result.code == 1, result.stdout
    last = result.lines[-1]
    assert last["message"] == SEED_FAILED and last["exitCode"] == 1 and last["suggestion"]
    assert SEED_FILE_APPLIED not in result.messages()
    assert count(database, "organizations") == 0


def test_pretty_mode_shows_the_stages(database: str) -> None:
    result = run_inv("provision", DATABASE_URL=database, LOG_FORMAT="pretty", COLUMNS="200")
    assert result.code == 0, result.stderr
    assert result.lines == []  # nothing JSON in pretty mode
    stages = ["✓ Waiting for the database", "→ Applying migrations", "✓ Seeding"]
    positions = [result.stderr.index(stage) for stage in stages]
    assert positions == sorted(positions)
    assert PROVISION_COMPLETED in result.stderr
