"""`inv rollback` and `inv forget`: undo applied migrations, or drop one tracking row.

Rollback order is the order of application reversed (newest `schema_migrations.id` first).
Each step runs its `.down.sql` and deletes its tracking row in one transaction; a down file
marked `-- provision:no-transaction` runs statement by statement, the row deleted after.
Both hold the migration advisory lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg

from provisioning import db
from provisioning.confirm import confirm
from provisioning.errors import BadMigrationFileError, MigrationSqlError, RefusedError
from provisioning.migration_files import (
    DOWN_SUFFIX,
    UP_SUFFIX,
    has_marker,
    is_empty_sql,
    read_sql,
)
from provisioning.migrations import AppliedRow, applied_rows, tracking_table_exists
from provisioning.settings import Settings
from provisioning.sql_checks import find_meta_command, find_transaction_control, split_statements

log = logging.getLogger(__name__)

ROLLBACK_FAILED = "Rollback failed"
ROLLED_BACK = "Migration rolled back"
ROLLBACK_COMPLETED = "Rollback completed"
NO_DOWN_FILE = "No down migration for {filename}: it cannot be rolled back automatically"
NOTHING_APPLIED = "Nothing to roll back: no migration is applied"
TOO_MANY_STEPS = "Cannot roll back {steps} migrations: only {applied} applied"
FORGOTTEN = "Tracking row deleted"
UNKNOWN_FILENAME = "No tracking row for {filename}"
DELETE_ROW = "DELETE FROM schema_migrations WHERE filename = %s"


def manual_procedure(filename: str) -> list[str]:
    """The runbook's "Undo Last Migration" steps, for one file."""
    return [
        f"1. Write the SQL that undoes {filename} by hand",
        "2. Run it against the database",
        f'3. Remove it from the tracking table: `inv forget {filename}` (or psql -c "DELETE FROM '
        f"schema_migrations WHERE filename='{filename}';\")",
    ]


def down_path_for(migrations_dir: Path, filename: str) -> Path:
    return migrations_dir / (filename.removesuffix(UP_SUFFIX) + DOWN_SUFFIX)


@dataclass(frozen=True)
class Step:
    row: AppliedRow
    path: Path
    text: str

    @property
    def no_transaction(self) -> bool:
        return has_marker(self.text)


def _load_step(migrations_dir: Path, row: AppliedRow) -> Step:
    path = down_path_for(migrations_dir, row.filename)
    text = read_sql(path) if path.is_file() else ""
    if not text or is_empty_sql(text):
        procedure = manual_procedure(row.filename)
        raise RefusedError(
            NO_DOWN_FILE.format(filename=row.filename),
            suggestion=" ".join(procedure),
            filename=row.filename,
            downFile=path.name,
            manualProcedure=procedure,
        )
    if not has_marker(text):
        refusal = find_meta_command(text) or find_transaction_control(text)
        if refusal:
            raise BadMigrationFileError(
                f"Bad migration file {path.name}: it has a {refusal.rule} on line {refusal.line}",
                filename=path.name,
                line=refusal.line,
                detail=refusal.detail,
            )
    return Step(row, path, text)


def plan_rollback(rows: list[AppliedRow], steps: int) -> list[AppliedRow]:
    """The rows to undo, newest id first. Pure; RefusedError when there are not enough."""
    if steps < 1:
        raise RefusedError(f"--steps must be at least 1 (got {steps})")
    if not rows:
        raise RefusedError(NOTHING_APPLIED, suggestion="Nothing was changed.")
    if steps > len(rows):
        raise RefusedError(
            TOO_MANY_STEPS.format(steps=steps, applied=len(rows)),
            suggestion=f"Nothing was changed. Use --steps {len(rows)} or fewer.",
        )
    return sorted(rows, key=lambda r: r.id, reverse=True)[:steps]


def _undo(conn: psycopg.Connection, step: Step) -> None:
    name = step.path.name
    try:
        if step.no_transaction:
            for statement in split_statements(step.text):
                conn.execute(statement.text.encode())
            conn.execute(DELETE_ROW, (step.row.filename,))
        else:
            with conn.transaction():
                conn.execute(step.text.encode())
                conn.execute(DELETE_ROW, (step.row.filename,))
    except psycopg.Error as exc:
        raise MigrationSqlError(
            ROLLBACK_FAILED,
            filename=name,
            error=(exc.diag.message_primary if exc.diag else None) or db.clean_error(exc),
            sqlstate=exc.sqlstate,
            suggestion=f"Fix the SQL in {name}; the tracking row of {step.row.filename} was kept.",
        ) from None


def rollback(settings: Settings, steps: int = 1) -> list[str]:
    """Undo the newest `steps` applied migrations; returns their filenames, newest first."""
    done: list[str] = []
    with db.connect(settings) as conn, db.advisory_lock(conn, settings.db_lock_timeout):
        rows = applied_rows(conn) if tracking_table_exists(conn) else []
        plan = [_load_step(settings.migrations_dir, row) for row in plan_rollback(rows, steps)]
        for step in plan:  # every down file was found and checked before the first one runs
            _undo(conn, step)
            done.append(step.row.filename)
            log.info(
                ROLLED_BACK,
                extra={"fields": {"filename": step.row.filename, "downFile": step.path.name}},
            )
    log.info(ROLLBACK_COMPLETED, extra={"fields": {"rolledBack": len(done), "filenames": done}})
    return done


def forget(settings: Settings, filename: str, yes: bool = False) -> None:
    """Delete one tracking row (the runbook's manual fix), after confirmation."""
    with db.connect(settings) as conn:
        known = tracking_table_exists(conn) and any(
            row.filename == filename for row in applied_rows(conn)
        )
        if not known:
            raise RefusedError(
                UNKNOWN_FILENAME.format(filename=filename),
                suggestion="Nothing was changed. `inv status` lists the applied filenames.",
                filename=filename,
            )
        confirm(
            f"forget {filename}",
            f"Delete the tracking row of {filename}? The next migrate will run it again.",
            yes=yes,
        )
        with db.advisory_lock(conn, settings.db_lock_timeout):
            deleted = conn.execute(DELETE_ROW, (filename,)).rowcount
    if not deleted:  # another run removed it between the check and the lock
        raise RefusedError(UNKNOWN_FILENAME.format(filename=filename), filename=filename)
    log.info(FORGOTTEN, extra={"fields": {"filename": filename}})
