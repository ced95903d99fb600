"""Apply one migration file: its SQL and its tracking row commit together, or neither does.

A transactional file goes to the server as ONE simple-query string (one round trip):

    BEGIN; [SET LOCAL ...;] <the file> \\n; INSERT INTO schema_migrations ...; COMMIT;

This is safe only because files with their own COMMIT/ROLLBACK are refused beforehand
(sql_checks). On any error the transaction is rolled back, and the error position PostgreSQL
reports is mapped back to a line of the file. A `-- provision:no-transaction` file runs
statement by statement (split by pglast) in autocommit mode; its tracking row is written
after its last statement.
"""

from __future__ import annotations

import logging
import re
import time

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from provisioning.errors import MigrationSqlError
from provisioning.migration_files import MigrationFile
from provisioning.sql_checks import line_of, split_statements

log = logging.getLogger(__name__)

MIGRATION_FAILED = "Migration failed"
APPLYING = "Applying migration"
APPLIED = "Migration applied"
SQL_SUGGESTION = (
    "Fix the SQL in {filename} at line {line}, then run `inv migrate` again. The file was "
    "rolled back and has no tracking row, so there is nothing to delete."
)
NO_TXN_SUGGESTION = (
    "{filename} runs outside a transaction: statements before line {line} stay applied and "
    "the file is not recorded. Undo them by hand or make the file re-runnable (IF NOT EXISTS), "
    "then run `inv migrate` again."
)
LOCK_SUGGESTION = (
    "A lock on {relation} is held by pid {pid}: let that session finish (or end it with "
    "SELECT pg_terminate_backend({pid})), or raise MIGRATION_LOCK_TIMEOUT, then run again."
)
CONNECTION_LOST_SUGGESTION = (
    "The connection was lost while {filename} ran (its session was terminated or the server "
    "stopped), so the server rolled the file back: it has no tracking row. Check that "
    "PostgreSQL is up (`inv wait`), then run `inv migrate` again."
)
_BLOCKERS = """
SELECT l.pid, c.relname, l.mode = 'AccessExclusiveLock'
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.relation >= 16384
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _literal(conn: psycopg.Connection, value: str) -> str:
    return sql.Literal(value).as_string(conn)


def tracking_insert(conn: psycopg.Connection, mf: MigrationFile) -> str:
    return (
        "INSERT INTO schema_migrations (filename, checksum) VALUES "
        f"({_literal(conn, mf.filename)}, {_literal(conn, mf.checksum)})"
    )


def session_settings(lock_timeout_ms: int, synchronous: bool, local: bool = True) -> str:
    scope = "SET LOCAL" if local else "SET"
    parts = []
    if lock_timeout_ms:
        parts.append(f"{scope} lock_timeout = '{int(lock_timeout_ms)}ms';\n")
    if synchronous:
        parts.append(f"{scope} synchronous_commit = on;\n")
    return "".join(parts)


def _rollback_quietly(conn: psycopg.Connection) -> None:
    try:
        if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
    except psycopg.Error:
        conn.close()  # the server rolls back a transaction whose connection is gone


def _blocker(conn: psycopg.Connection, text: str) -> tuple[int, str] | None:
    """The session most likely blocking the file: a lock on a table the file names first
    (a bystander's lock elsewhere is no answer), then an ACCESS EXCLUSIVE one, lowest pid."""
    try:
        rows = conn.execute(_BLOCKERS).fetchall()
    except psycopg.Error:
        return None

    def rank(row: tuple[int, str, bool]) -> tuple[bool, bool, int]:
        named = re.search(rf"(?<![\w$]){re.escape(row[1])}(?![\w$])", text, re.IGNORECASE)
        return (named is None, not row[2], row[0])

    best = min(rows, key=rank, default=None)
    return (int(best[0]), str(best[1])) if best else None


def sql_error(
    conn: psycopg.Connection,
    mf: MigrationFile,
    exc: psycopg.Error,
    text: str,
    offset: int,
    *,
    partial: bool = False,
    statement_start: int | None = None,
) -> MigrationSqlError:
    """The domain error for a failed file; `offset` is where the sent text starts in the file."""
    fields: dict[str, object] = {
        "filename": mf.filename,
        "error": exc.diag.message_primary or str(exc).strip(),
        "sqlstate": exc.sqlstate,
    }
    line: int | None = None
    position = exc.diag.statement_position
    if position and position.isdigit():
        index = offset + int(position) - 1
        if 0 <= index <= len(text):
            line = line_of(text, index)
            fields.update(line=line, position=index + 1)
            fields["column"] = index - (text.rfind("\n", 0, index) + 1) + 1
    elif statement_start is not None:  # no position (a runtime error): the statement's line
        line = line_of(text, statement_start)
        fields["line"] = line
    if exc.diag.message_detail:
        fields["detail"] = exc.diag.message_detail
    where = str(line) if line else "the reported statement"
    template = NO_TXN_SUGGESTION if partial else SQL_SUGGESTION
    suggestion = template.format(filename=mf.filename, line=where)
    if conn.closed and not partial:  # _rollback_quietly closes a connection that is gone
        fields["connectionLost"] = True
        suggestion = CONNECTION_LOST_SUGGESTION.format(filename=mf.filename)
    if exc.sqlstate == "55P03":
        blocker = _blocker(conn, text)
        if blocker:
            fields["blockingPid"] = blocker[0]
            suggestion = LOCK_SUGGESTION.format(pid=blocker[0], relation=blocker[1])
    return MigrationSqlError(MIGRATION_FAILED, suggestion=suggestion, **fields)


def run_in_transaction(
    conn: psycopg.Connection,
    mf: MigrationFile,
    text: str,
    *,
    lock_timeout_ms: int = 0,
    synchronous: bool = False,
) -> None:
    """The file and its tracking row in one transaction, sent as one round trip."""
    prefix = "BEGIN;\n" + session_settings(lock_timeout_ms, synchronous)
    # The newline keeps a trailing `-- comment` in the file from swallowing the `;`.
    query = f"{prefix}{text}\n;\n{tracking_insert(conn, mf)};\nCOMMIT;"
    _execute_or_roll_back(conn, mf, query, text, -len(prefix))


def _execute_or_roll_back(
    conn: psycopg.Connection, mf: MigrationFile, query: str, text: str, offset: int
) -> None:
    """Run `query` (holding `text` at `offset`); on any failure roll the transaction back.

    A SQL error becomes the domain error with its line in the file; Ctrl-C / SIGTERM (psycopg
    has already cancelled the query) is re-raised after the rollback.
    """
    try:
        conn.execute(query)
    except psycopg.Error as exc:
        _rollback_quietly(conn)
        raise sql_error(conn, mf, exc, text, offset) from None
    except BaseException:
        _rollback_quietly(conn)
        raise


def run_statements(
    conn: psycopg.Connection,
    mf: MigrationFile,
    text: str,
    *,
    lock_timeout_ms: int = 0,
    synchronous: bool = False,
) -> None:
    """A no-transaction file: each statement on its own, then the tracking row."""
    try:
        statements = split_statements(text)
    except Exception as exc:  # pglast's ParseError: the grammar's own message and offset
        raise MigrationSqlError(
            MIGRATION_FAILED,
            filename=mf.filename,
            error=str(exc),
            suggestion=SQL_SUGGESTION.format(filename=mf.filename, line="the reported place"),
        ) from None
    setup = session_settings(lock_timeout_ms, synchronous, local=False)
    done = 0
    try:
        if setup:
            conn.execute(setup)
        for done, statement in enumerate(statements):
            try:
                conn.execute(statement.text)
            except psycopg.Error as exc:
                _rollback_quietly(conn)
                err = sql_error(
                    conn,
                    mf,
                    exc,
                    text,
                    statement.offset,
                    partial=done > 0,
                    statement_start=statement.offset,
                )
                raise err from None
        conn.execute(tracking_insert(conn, mf))
    finally:
        if setup and not conn.closed and not conn.broken:
            conn.execute("RESET lock_timeout; RESET synchronous_commit")


def apply_migration(
    conn: psycopg.Connection,
    mf: MigrationFile,
    text: str,
    *,
    lock_timeout_ms: int = 0,
    synchronous: bool = False,
) -> int:
    """Apply one file with its tracking row, logging around it; returns the duration in ms."""
    log.info(APPLYING, extra={"fields": {"filename": mf.filename}})
    started = time.monotonic()
    run = run_statements if mf.no_transaction else run_in_transaction
    run(conn, mf, text, lock_timeout_ms=lock_timeout_ms, synchronous=synchronous)
    duration_ms = round((time.monotonic() - started) * 1000)
    log.info(APPLIED, extra={"fields": {"filename": mf.filename, "durationMs": duration_ms}})
    return duration_ms


def apply_together(
    conn: psycopg.Connection, files: list[tuple[MigrationFile, str]], *, lock_timeout_ms: int = 0
) -> None:
    """--single-transaction: every file and its tracking row in one transaction."""
    conn.execute("BEGIN;\n" + session_settings(lock_timeout_ms, True))
    for mf, text in files:
        log.info(APPLYING, extra={"fields": {"filename": mf.filename}})
        started = time.monotonic()
        _execute_or_roll_back(conn, mf, f"{text}\n;\n{tracking_insert(conn, mf)}", text, 0)
        duration_ms = round((time.monotonic() - started) * 1000)
        log.info(APPLIED, extra={"fields": {"filename": mf.filename, "durationMs": duration_ms}})
    try:
        conn.execute("COMMIT")
    except BaseException:
        _rollback_quietly(conn)
        raise
