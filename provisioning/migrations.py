"""The tracking table `schema_migrations` (exactly the runbook's) and the pure migration plan."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from provisioning.errors import MigrationError
from provisioning.migration_files import MigrationFile, parse_name

log = logging.getLogger(__name__)

# The runbook's Appendix, word for word: a table created by hand from it is read as it is.
TRACKING_TABLE_DDL = """CREATE TABLE schema_migrations (
  id SERIAL PRIMARY KEY,
  filename TEXT NOT NULL UNIQUE,
  applied_at TIMESTAMP NOT NULL DEFAULT NOW(),
  checksum TEXT NOT NULL
)"""
TRACKING_TABLE_CREATED = "Created the tracking table schema_migrations"
TRACKING_TABLE_DENIED = "Cannot create the tracking table schema_migrations"
GRANT_SUGGESTION = (
    'The role lacks CREATE on the schema: run `psql -d DB -c "GRANT CREATE ON SCHEMA public TO '
    'current_user;"` as the owner (runbook: Migration table not created), then run again.'
)


@dataclass(frozen=True)
class AppliedRow:
    id: int
    filename: str
    applied_at: datetime
    checksum: str


def tracking_table_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def ensure_tracking_table(conn: psycopg.Connection) -> bool:
    """Create the table if it is missing (call under the migration lock); True if created."""
    if tracking_table_exists(conn):
        return False
    try:
        conn.execute(TRACKING_TABLE_DDL)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise MigrationError(
            TRACKING_TABLE_DENIED,
            error=exc.diag.message_primary or str(exc),
            sqlstate=exc.sqlstate,
            suggestion=GRANT_SUGGESTION,
        ) from None
    log.info(TRACKING_TABLE_CREATED)
    return True


def applied_rows(conn: psycopg.Connection) -> list[AppliedRow]:
    """Every tracking row, oldest first (one query)."""
    cur = conn.execute(
        "SELECT id, filename, applied_at, checksum FROM schema_migrations ORDER BY id"
    )
    return [AppliedRow(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class Mismatch:
    filename: str
    stored: str
    current: str


@dataclass(frozen=True)
class Plan:
    """What a run would do, derived purely from the folder and the tracking rows."""

    pending: list[MigrationFile] = field(default_factory=list)
    applied: list[MigrationFile] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    missing: list[AppliedRow] = field(default_factory=list)  # applied, file gone
    out_of_order: list[MigrationFile] = field(default_factory=list)  # pending, below newest


def number_of(filename: str) -> int | None:
    parsed = parse_name(filename)
    return parsed[0] if parsed else None


def plan_migrations(files: Sequence[MigrationFile], applied: Sequence[AppliedRow]) -> Plan:
    by_name = {row.filename: row for row in applied}
    on_disk = {mf.filename for mf in files}
    numbers = [n for row in applied if (n := number_of(row.filename)) is not None]
    newest = max(numbers, default=None)
    plan = Plan(missing=[row for row in applied if row.filename not in on_disk])
    for mf in files:
        row = by_name.get(mf.filename)
        if row is None:
            plan.pending.append(mf)
            if newest is not None and mf.number < newest:
                plan.out_of_order.append(mf)
            continue
        plan.applied.append(mf)
        if row.checksum.strip().lower() != mf.checksum:
            plan.mismatches.append(Mismatch(mf.filename, row.checksum, mf.checksum))
    return plan
