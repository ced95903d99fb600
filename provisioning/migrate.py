"""`inv migrate`: validate the folder, take the lock, verify checksums, apply what is pending.

Speed: an idempotent re-run costs one query for the applied set and one read + hash per
file; pglast is imported only for files that need splitting or checking, rich only in pretty
mode with many files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg

from provisioning import db
from provisioning.applying import apply_migration, apply_together
from provisioning.errors import BadMigrationFileError, ChecksumMismatchError
from provisioning.migration_files import MigrationFile, discover_migrations, read_text
from provisioning.migrations import (
    AppliedRow,
    Plan,
    applied_rows,
    ensure_tracking_table,
    plan_migrations,
    tracking_table_exists,
)
from provisioning.settings import Settings
from provisioning.sql_checks import META_COMMAND, find_meta_command, find_transaction_control

log = logging.getLogger(__name__)

CHECKSUM_MISMATCH = "Migration checksum mismatch"
SUMMARY = "Migrations complete"
DRY_RUN_SUMMARY = "Dry run: nothing was changed"
WOULD_APPLY = "Would apply migration"
OUT_OF_ORDER = "Applying a migration older than the newest applied one (out of order)"
MISSING_FILE = "Applied migration has no file on disk"
REFUSED = "Refused migration file {filename}: {rule} at line {line}"
SINGLE_TXN_REFUSED = "--single-transaction cannot include no-transaction files"
MISMATCH_SUGGESTION = (
    "Applied migrations must not change. Restore the file (`git checkout -- {path}`), or if "
    "the change is intended delete its tracking row (`inv forget {filename}`, the runbook's "
    "DELETE FROM schema_migrations WHERE filename='{filename}') and run `inv migrate` again."
)
PROGRESS_THRESHOLD = 10  # pretty mode shows a progress bar from this many pending files


@dataclass(frozen=True)
class MigrateSummary:
    applied: int
    skipped: int
    duration_ms: int


def check_pending(mf: MigrationFile, text: str) -> None:
    """Refuse psql meta-commands, and COMMIT/ROLLBACK in a transactional file (exit 3)."""
    refusal = find_meta_command(text)
    if refusal is None and not mf.no_transaction:
        refusal = find_transaction_control(text)
    if refusal is None:
        return
    hint = (
        "psql meta-commands are not SQL: inline the SQL instead."
        if refusal.rule == META_COMMAND
        else "Remove the statement: each file already runs in its own transaction. Use "
        "`-- provision:no-transaction` as the first line for files that must run outside one."
    )
    raise BadMigrationFileError(
        REFUSED.format(filename=mf.filename, rule=refusal.rule, line=refusal.line),
        filename=mf.filename,
        rule=refusal.rule,
        line=refusal.line,
        statement=refusal.detail,
        suggestion=hint,
    )


def report_plan(settings: Settings, plan: Plan) -> None:
    """Warn about missing files and out-of-order files; stop on any checksum mismatch."""
    for row in plan.missing:
        log.warning(MISSING_FILE, extra={"fields": {"filename": row.filename}})
    if plan.mismatches:
        first = plan.mismatches[0]
        path = settings.migrations_dir / first.filename
        raise ChecksumMismatchError(
            CHECKSUM_MISMATCH,
            filename=first.filename,
            storedChecksum=first.stored,
            currentChecksum=first.current,
            mismatched=[m.filename for m in plan.mismatches],
            suggestion=MISMATCH_SUGGESTION.format(path=path, filename=first.filename),
        )
    for mf in plan.out_of_order:
        log.warning(OUT_OF_ORDER, extra={"fields": {"filename": mf.filename}})


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    from provisioning import logs

    if total < PROGRESS_THRESHOLD or not logs.is_pretty():
        yield lambda: None
        return
    from provisioning.console import progress_bar

    with progress_bar("Applying migrations", total) as advance:
        yield advance


def migrate(
    settings: Settings,
    conn: psycopg.Connection | None = None,
    *,
    dry_run: bool = False,
    single_transaction: bool = False,
) -> MigrateSummary:
    """The whole run on `conn` (or a new connection); returns the summary and logs it."""
    started = time.monotonic()
    texts: dict[str, str] = {}
    files = discover_migrations(settings.migrations_dir, texts)  # exit 3 before any DB work
    own = conn is None
    conn = conn or db.connect(settings)
    try:
        if dry_run:
            rows = applied_rows(conn) if tracking_table_exists(conn) else []
            applied = _run(settings, conn, files, rows, texts, True, single_transaction)
        else:
            with db.advisory_lock(conn, settings.db_lock_timeout):
                rows = applied_rows(conn) if tracking_table_exists(conn) else []
                applied = _run(settings, conn, files, rows, texts, False, single_transaction)
    finally:
        if own:
            conn.close()
    duration_ms = round((time.monotonic() - started) * 1000)
    applied_names = {row.filename for row in rows}
    skipped = sum(1 for mf in files if mf.filename in applied_names)
    summary = MigrateSummary(applied, skipped, duration_ms)
    fields = {"applied": applied, "skipped": skipped, "durationMs": duration_ms}
    log.info(DRY_RUN_SUMMARY if dry_run else SUMMARY, extra={"fields": fields})
    return summary


def _run(
    settings: Settings,
    conn: psycopg.Connection,
    files: list[MigrationFile],
    rows: list[AppliedRow],
    texts: dict[str, str],
    dry_run: bool,
    single_transaction: bool,
) -> int:
    plan = plan_migrations(files, rows)
    report_plan(settings, plan)
    for mf in plan.applied:  # keep only the texts that will run
        texts.pop(mf.filename, None)
    for mf in plan.pending:  # every refusal before anything runs
        check_pending(mf, texts.get(mf.filename) or read_text(mf))
    if single_transaction and any(mf.no_transaction for mf in plan.pending):
        names = [mf.filename for mf in plan.pending if mf.no_transaction]
        raise BadMigrationFileError(
            SINGLE_TXN_REFUSED,
            filenames=names,
            suggestion="Run `inv migrate` without --single-transaction.",
        )
    if dry_run:
        for mf in plan.pending:
            log.info(WOULD_APPLY, extra={"fields": {"filename": mf.filename}})
        return 0
    ensure_tracking_table(conn)  # only now: a refused folder leaves the database untouched
    if not plan.pending:
        return 0
    if single_transaction:
        batch = [(mf, texts.pop(mf.filename, "") or read_text(mf)) for mf in plan.pending]
        apply_together(conn, batch, lock_timeout_ms=settings.migration_lock_timeout)
        return len(batch)
    # Commits are asynchronous (no WAL flush wait per file); the last file's commit is
    # synchronous, which flushes the WAL of every earlier commit as well, so all is durable
    # when the run ends. Atomicity of each file is unaffected: a crash can only lose whole
    # trailing transactions (file and tracking row together), never half a file.
    conn.execute("SET synchronous_commit = off")
    try:
        with _progress(len(plan.pending)) as advance:
            for index, mf in enumerate(plan.pending):
                text = texts.pop(mf.filename, "") or read_text(mf)
                apply_migration(
                    conn,
                    mf,
                    text,
                    lock_timeout_ms=settings.migration_lock_timeout,
                    synchronous=index == len(plan.pending) - 1,
                )
                advance()
    except BaseException:
        # A SQL error or an interrupt after some asynchronous commits: flush them before the
        # failure is reported, so every "Migration applied" line above is durable.
        _flush_wal(conn)
        raise
    finally:
        if not conn.closed and not conn.broken:
            with suppress(psycopg.Error):
                conn.execute("RESET synchronous_commit")
    return len(plan.pending)


def _flush_wal(conn: psycopg.Connection) -> None:
    """Wait until the WAL of every earlier commit is on disk: one synchronous commit does it.

    The commit only waits for the flush when its transaction wrote WAL (an xid alone is not
    enough), so it rewrites the newest tracking row with its own values.
    """
    if conn.closed or conn.broken:
        return  # the connection is gone: the server's WAL writer flushes within moments
    with suppress(psycopg.Error):
        conn.execute(
            "SET synchronous_commit = on; UPDATE schema_migrations SET checksum = checksum "
            "WHERE id = (SELECT max(id) FROM schema_migrations)"
        )


def run_migrate(
    settings: Settings, dry_run: bool = False, single_transaction: bool = False
) -> MigrateSummary:
    """The `inv migrate` service."""
    return migrate(settings, dry_run=dry_run, single_transaction=single_transaction)
