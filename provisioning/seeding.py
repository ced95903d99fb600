"""`inv seed`: run the `.sql` files in SEEDS_DIR in name order, all in one transaction.

The shipped seeds are idempotent (a second run inserts nothing). Rows inserted are counted
per file by summing the row count of every statement's result (`cursor.nextset()`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from provisioning import db
from provisioning.errors import LockTimeoutError, SeedError
from provisioning.settings import Settings

log = logging.getLogger(__name__)

SEED_FAILED = "Database seed failed"
SEED_SKIPPED = "Database seed skipped"
SEED_FILE_APPLIED = "Seed file applied"
SEED_COMPLETED = "Database seed completed"
NO_SEED_FILES = "No seed files found"


@dataclass(frozen=True)
class SeedFileResult:
    filename: str
    rows_inserted: int


@dataclass(frozen=True)
class SeedResult:
    files: tuple[SeedFileResult, ...]
    duration_ms: int

    @property
    def rows_inserted(self) -> int:
        return sum(f.rows_inserted for f in self.files)


def seed_files(seeds_dir: Path) -> list[Path]:
    """The `.sql` files directly in `seeds_dir`, in name order (none when it does not exist)."""
    if not seeds_dir.is_dir():
        return []
    return sorted(
        (p for p in seeds_dir.iterdir() if p.suffix == ".sql" and p.is_file()), key=lambda p: p.name
    )


def _read(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedError(SEED_FAILED, filename=path.name, error=str(exc)) from None
    if "\x00" in text:  # libpq would silently cut the query at it
        raise SeedError(SEED_FAILED, filename=path.name, error="the file contains a NUL byte")
    return text


def _run_file(cur: psycopg.Cursor[tuple[object, ...]], text: str) -> int:
    """Execute every statement of one file; the rows written by INSERT/UPDATE/COPY, summed."""
    cur.execute(text.encode())  # no parameters: the simple protocol, several statements allowed
    inserted = 0
    while True:
        status = (cur.statusmessage or "").split(" ", 1)[0]
        if status in {"INSERT", "COPY", "MERGE"} and cur.rowcount > 0:
            inserted += cur.rowcount
        if not cur.nextset():
            return inserted


def seed_database(conn: psycopg.Connection, seeds_dir: Path) -> SeedResult:
    """Run every seed file in one transaction; any failure rolls all of them back (SeedError)."""
    started = time.monotonic()
    paths = seed_files(seeds_dir)
    if not paths:
        log.info(NO_SEED_FILES, extra={"fields": {"seedsDir": str(seeds_dir)}})
        return SeedResult((), 0)
    results: list[SeedFileResult] = []
    current = ""
    try:
        with conn.transaction(), conn.cursor() as cur:
            for path in paths:
                current = path.name
                results.append(SeedFileResult(path.name, _run_file(cur, _read(path))))
    except psycopg.Error as exc:
        error = (exc.diag.message_primary if exc.diag else None) or db.clean_error(exc)
        raise SeedError(SEED_FAILED, filename=current, error=error, sqlstate=exc.sqlstate) from None
    for result in results:  # logged after COMMIT: a rolled-back file never reports rows
        log.info(
            SEED_FILE_APPLIED,
            extra={"fields": {"filename": result.filename, "rowsInserted": result.rows_inserted}},
        )
    outcome = SeedResult(tuple(results), round((time.monotonic() - started) * 1000))
    log.info(
        SEED_COMPLETED,
        extra={
            "fields": {
                "files": len(results),
                "rowsInserted": outcome.rows_inserted,
                "durationMs": outcome.duration_ms,
            }
        },
    )
    return outcome


def log_skipped(reason: str) -> None:
    log.info(SEED_SKIPPED, extra={"fields": {"reason": reason}})


def run_seed(settings: Settings) -> SeedResult | None:
    """`inv seed`: None when seeding is skipped (SKIP_SEED, or production by default)."""
    reason = settings.seeding_skipped_reason
    if reason:
        log_skipped(reason)
        return None
    with db.connect(settings) as conn:
        # The migration lock: concurrent runs must not seed at once, or `WHERE NOT EXISTS`
        # seeds insert their rows twice (each transaction misses the other's uncommitted rows).
        try:
            with db.advisory_lock(conn, settings.db_lock_timeout):
                return seed_database(conn, settings.seeds_dir)
        except LockTimeoutError as exc:  # `inv seed` fails with exit 1, as any seed failure
            raise SeedError(SEED_FAILED, suggestion=exc.suggestion, **exc.fields) from None
