"""Connections: the only caller of psycopg.connect. Turns connection failures into domain errors.

libpq reports connection failures without a SQLSTATE, so the cause is read from its message,
and sorted into what waiting can cure (refused, starting up) and what it cannot (a wrong
password, a missing role or database).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from provisioning.errors import LockTimeoutError, ReadinessError
from provisioning.redact import redact
from provisioning.settings import Settings

log = logging.getLogger(__name__)

# A fixed key for the migration advisory lock (advisory locks are scoped to one database).
MIGRATION_LOCK_KEY = 7_423_119_024_001

LOCK_WAITING = "Waiting for the migration lock held by another run"
LOCK_TIMEOUT = "Migration lock not acquired within {ms}ms"


@dataclass(frozen=True)
class Cause:
    pattern: str
    retryable: bool
    suggestion: str


# First match wins. Suggestions name the cause, as the troubleshooting matrix does.
CAUSES = [
    Cause(
        "password authentication failed",
        False,
        "Password authentication failed: check the user and password in DATABASE_URL.",
    ),
    Cause(
        r"role .* does not exist",
        False,
        "The role in DATABASE_URL does not exist: create it (CREATE ROLE ... LOGIN) or fix the "
        "user name.",
    ),
    Cause(
        r"database .* does not exist",
        False,
        "The database in DATABASE_URL does not exist: create it (createdb NAME) or fix its name.",
    ),
    Cause(
        "no pg_hba.conf entry",
        False,
        "The server's pg_hba.conf refuses this host, user or database: add an entry or connect "
        "as another role.",
    ),
    Cause(
        "SSL",
        False,
        "The server and DATABASE_URL disagree about SSL: adjust sslmode in DATABASE_URL.",
    ),
    Cause(
        r"not permitted to log in|permission denied for database",
        False,
        "The role may not connect to this database: GRANT CONNECT or ALTER ROLE ... LOGIN.",
    ),
    Cause(
        r"invalid .*(parameter|option)|invalid connection option|missing \"=\"|"
        r"invalid port number|invalid .* value",
        False,
        "DATABASE_URL has a parameter or value libpq does not accept: fix or remove it.",
    ),
    Cause(
        "the database system is (starting up|shutting down|in recovery mode|not yet accepting)",
        True,
        "PostgreSQL is still starting up; this is normal during a cold start.",
    ),
    Cause(
        r"failed to resolve host|could not translate host name|Name or service not known",
        True,
        "The host name in DATABASE_URL does not resolve (yet): check it, or wait for DNS.",
    ),
    Cause(
        r"Connection refused|No such file or directory|could not connect",
        True,
        "Nothing is listening there yet: start PostgreSQL (`inv server.start` for the embedded "
        "server) or fix the host and port in DATABASE_URL.",
    ),
]
DEFAULT_CAUSE = Cause(
    "", True, "Check that PostgreSQL is running and reachable, or raise DB_TIMEOUT."
)


class ConnectError(ReadinessError):
    """A failed connection, with whether waiting could cure it."""

    def __init__(self, message: str, *, cause: Cause) -> None:
        super().__init__(message, suggestion=cause.suggestion)
        self.retryable = cause.retryable


def clean_error(exc: BaseException) -> str:
    """libpq's message on one line, without psycopg's prefix, redacted."""
    text = " ".join(str(exc).split())
    text = text.removeprefix("connection failed: ")
    return redact(text)


def classify(message: str) -> Cause:
    for cause in CAUSES:
        if re.search(cause.pattern, message, re.IGNORECASE):
            return cause
    return DEFAULT_CAUSE


def conninfo(settings: Settings, *, dbname: str | None = None) -> str:
    """The libpq conninfo for the configured server (starting the embedded one if needed)."""
    if settings.database_url is None:
        from provisioning import embedded

        base = embedded.ensure_running(settings.project_root)
    else:
        base = settings.database_url.get_secret_value()
    return make_conninfo(base, dbname=dbname) if dbname else base


def describe_target(settings: Settings) -> str:
    """Safe parts only: `embedded`, or `user@host:port/dbname` without the password."""
    if settings.database_url is None:
        return "embedded"
    params = conninfo_to_dict(settings.database_url.get_secret_value())
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    user = params.get("user") or ""
    dbname = params.get("dbname") or user
    return redact(f"{user}@{host}:{port}/{dbname}" if user else f"{host}:{port}/{dbname}")


def connect(
    settings: Settings, *, dbname: str | None = None, timeout_s: float = 10
) -> psycopg.Connection:
    """An autocommit connection; atomic work uses `with conn.transaction():`."""
    target = conninfo(settings, dbname=dbname)
    try:
        return psycopg.connect(
            target,
            autocommit=True,
            connect_timeout=max(2, round(timeout_s)),
            application_name="nexus-provisioning",
        )
    except psycopg.Error as exc:
        message = clean_error(exc)
        raise ConnectError(message, cause=classify(message)) from None


def ping(conn: psycopg.Connection) -> None:
    conn.execute("SELECT 1")


@dataclass(frozen=True)
class LockHolder:
    pid: int
    held_for_ms: int | None


def lock_holder(conn: psycopg.Connection, key: int = MIGRATION_LOCK_KEY) -> LockHolder | None:
    """The session holding the migration advisory lock, if any (and for how long, roughly)."""
    row = conn.execute(
        """
        SELECT l.pid, (EXTRACT(EPOCH FROM now() - a.state_change) * 1000)::bigint
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (
                SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((l.classid::bigint << 32) | l.objid::bigint) = %s
        LIMIT 1
        """,
        (key,),
    ).fetchone()
    return LockHolder(pid=row[0], held_for_ms=row[1]) if row else None


def watch_client(conn: psycopg.Connection) -> None:
    """Have the server check every second, while a query runs, that this client is alive.

    Without it, a killed run's backend keeps executing the statement in flight (a long
    pg_sleep, a big CREATE INDEX) and keeps the session lock until that statement ends;
    with it the server cancels the statement within a second, rolls the file back and
    frees the lock (PostgreSQL 14+ on Linux; elsewhere the SET fails and is ignored).
    """
    if conn.info.server_version >= 140000:
        with suppress(psycopg.Error):
            conn.execute("SET client_connection_check_interval = '1s'")


@contextmanager
def advisory_lock(
    conn: psycopg.Connection, timeout_ms: int, key: int = MIGRATION_LOCK_KEY
) -> Iterator[None]:
    """Hold the session-level migration lock; it dies with the connection, so it cannot go stale.

    Waits up to `timeout_ms` in the server (lock_timeout applies to advisory locks), so a
    waiter wakes the moment the holder finishes instead of polling.
    """
    watch_client(conn)
    acquired = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    if not (acquired and acquired[0]):
        holder = lock_holder(conn, key)
        fields = {"holderPid": holder.pid if holder else None, "timeoutMs": timeout_ms}
        log.warning(LOCK_WAITING, extra={"fields": fields})
        started = time.monotonic()
        try:
            if timeout_ms == 0:  # 0 means "do not wait", not PostgreSQL's "wait forever"
                raise psycopg.errors.LockNotAvailable()
            conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{timeout_ms}ms")))
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except psycopg.errors.LockNotAvailable:
            holder = lock_holder(conn, key)
            pid = holder.pid if holder else None
            raise LockTimeoutError(
                LOCK_TIMEOUT.format(ms=timeout_ms),
                suggestion=(
                    f"Another provisioning run (pid {pid}) holds the migration lock: wait for it "
                    "to finish, or raise DB_LOCK_TIMEOUT."
                ),
                holderPid=pid,
            ) from None
        finally:
            if not conn.closed:
                conn.execute("RESET lock_timeout")
        log.info(
            "Migration lock acquired",
            extra={"fields": {"waitedMs": round((time.monotonic() - started) * 1000)}},
        )
    try:
        yield
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
