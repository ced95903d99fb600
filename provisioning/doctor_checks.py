"""The troubleshooting matrix as checks: each looks for one known cause and names its fix.

Every check is read-only (doctor never creates the tracking table or changes anything) and
returns a `Finding`: ok, a warning (exit 0), or an error with the exit code of its kind.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import psycopg

from provisioning import db, deps, embedded
from provisioning.errors import BadMigrationFileError, DependencyError, ExitCode
from provisioning.migration_files import discover_migrations
from provisioning.migrations import applied_rows, plan_migrations, tracking_table_exists
from provisioning.settings import Settings

Level = Literal["ok", "warn", "error"]


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str
    fix: str = ""
    exit_code: ExitCode = ExitCode.OK

    @property
    def ok(self) -> bool:
        return self.level == "ok"


def ok(check: str, detail: str) -> Finding:
    return Finding(check, "ok", detail)


def warn(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, "warn", detail, fix)


def error(check: str, detail: str, fix: str, code: ExitCode = ExitCode.GENERAL) -> Finding:
    return Finding(check, "error", detail, fix, code)


def check_python() -> Finding:
    try:
        deps.check_dependencies()
    except DependencyError as exc:
        return error("python", exc.message, exc.suggestion, ExitCode.DEPENDENCY)
    version = ".".join(map(str, sys.version_info[:3]))
    return ok("python", f"Python {version}; {', '.join(deps.REQUIRED_PACKAGES)} installed")


def connect_checks(settings: Settings) -> tuple[list[Finding], psycopg.Connection | None]:
    """Server reachable (and how fast), then authentication and database existence."""
    if settings.embedded and embedded.running_server(settings.project_root) is None:
        # Connecting would start it: doctor changes nothing, so it only reports.
        return [
            error(
                "server",
                "the embedded PostgreSQL server is not running",
                "Start it with `inv server.start` (any task that needs the database starts it).",
                ExitCode.READINESS,
            )
        ], None
    started = time.monotonic()
    try:
        conn = db.connect(settings, timeout_s=5)
    except db.ConnectError as exc:
        if exc.retryable:  # nothing answered: the server itself is the problem
            return [error("server", exc.message, exc.suggestion, ExitCode.READINESS)], None
        elapsed = round((time.monotonic() - started) * 1000)
        return [
            ok("server", f"answered in {elapsed}ms"),
            error("login", exc.message, exc.suggestion, ExitCode.READINESS),
        ], None
    except Exception as exc:  # e.g. the embedded server failed to start
        detail = db.clean_error(exc)
        return [error("server", detail, db.classify(detail).suggestion, ExitCode.READINESS)], None
    elapsed = round((time.monotonic() - started) * 1000)
    user, database = conn.execute("SELECT current_user, current_database()").fetchone() or ("", "")
    return [
        ok("server", f"answered in {elapsed}ms ({db.describe_target(settings)})"),
        ok("login", f"authenticated as {user}; database {database} exists"),
    ], conn


PRIVILEGES = """
    SELECT current_user, r.rolsuper, r.rolcreaterole,
           has_schema_privilege(current_schema(), 'CREATE'), current_schema(),
           (SELECT count(*) FROM pg_tables t WHERE t.schemaname = current_schema()
              AND NOT has_table_privilege(
                  quote_ident(t.schemaname) || '.' || quote_ident(t.tablename),
                  'SELECT, INSERT, UPDATE, DELETE'))
    FROM pg_roles r WHERE r.rolname = current_user
"""


def check_privileges(conn: psycopg.Connection) -> Iterator[Finding]:
    """The runbook's least-privilege list: CREATE on the schema, DML, no SUPERUSER/CREATEROLE."""
    row = conn.execute(PRIVILEGES).fetchone()
    if row is None:
        yield error(
            "privileges", "the current role is not in pg_roles", "Reconnect as a login role."
        )
        return
    user, superuser, createrole, can_create, schema, lacking_dml = row
    if schema is None:
        yield error(
            "privileges",
            "no schema on the search_path exists",
            "Create the schema (CREATE SCHEMA public) or fix search_path.",
        )
        return
    if not can_create:
        yield error(
            "privileges",
            f"{user} lacks CREATE on schema {schema}",
            f'psql -d DB -c "GRANT CREATE ON SCHEMA {schema} TO {user};" (as its owner)',
        )
    elif lacking_dml:
        yield error(
            "privileges",
            f"{user} lacks SELECT/INSERT/UPDATE/DELETE on {lacking_dml} table(s) in {schema}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {user};",
        )
    else:
        yield ok("privileges", f"{user} has CREATE on schema {schema} and DML on its tables")
    powers = [name for name, has in (("SUPERUSER", superuser), ("CREATEROLE", createrole)) if has]
    if powers:
        yield warn(
            "least privilege",
            f"{user} has {' and '.join(powers)}",
            f"Migrate as a role without them (ALTER ROLE {user} NOSUPERUSER NOCREATEROLE).",
        )
    else:
        yield ok("least privilege", f"{user} has neither SUPERUSER nor CREATEROLE")


def check_migrations(conn: psycopg.Connection, settings: Settings) -> Iterator[Finding]:
    """Tracking table, checksum drift, rows whose file is gone, pending files. Read-only."""
    try:
        files = discover_migrations(settings.migrations_dir)
    except BadMigrationFileError as exc:
        yield error("migration files", exc.message, exc.suggestion, ExitCode.MIGRATION)
        files = None
    if not tracking_table_exists(conn):
        yield warn(
            "tracking table",
            "schema_migrations does not exist yet",
            "`inv migrate` creates it (the role needs CREATE on the schema).",
        )
        rows = []
    else:
        rows = applied_rows(conn)
        yield ok("tracking table", f"schema_migrations holds {len(rows)} row(s)")
    if files is None:
        return
    plan = plan_migrations(files, rows)
    if plan.mismatches:
        names = ", ".join(m.filename for m in plan.mismatches)
        yield error(
            "checksums",
            f"applied file(s) changed since they ran: {names}",
            "Restore them (git checkout), or `inv forget FILENAME` if the change is intended.",
            ExitCode.MIGRATION,
        )
    else:
        yield ok("checksums", f"{len(plan.applied)} applied file(s) unchanged")
    if plan.missing:
        names = ", ".join(row.filename for row in plan.missing)
        yield error(
            "missing files",
            f"applied but no longer on disk: {names}",
            "Restore the file(s), or `inv forget FILENAME` for a row left by a removed file.",
            ExitCode.MIGRATION,
        )
    else:
        yield ok("missing files", "every tracking row has its file")
    if plan.pending:
        yield warn(
            "pending",
            f"{len(plan.pending)} migration(s) not applied: {plan.pending[0].filename} first",
            "Run `inv migrate` (or `inv provision`).",
        )
    else:
        yield ok("pending", "no pending migrations")


def check_lock(conn: psycopg.Connection, settings: Settings) -> Finding:
    """Another session holding the migration lock: a warning, an error once a run would time out."""
    holder = db.lock_holder(conn)
    if holder is None:
        return ok("migration lock", "free")
    held = holder.held_for_ms or 0
    detail = f"held by pid {holder.pid} for {held}ms"
    pid = holder.pid
    fix = f"Wait for pid {pid} to finish, or end it: SELECT pg_terminate_backend({pid});"
    if settings.db_lock_timeout and held < settings.db_lock_timeout:
        return warn("migration lock", detail, fix)
    return error("migration lock", f"{detail} (over DB_LOCK_TIMEOUT)", fix, ExitCode.MIGRATION)


def run_checks(settings: Settings) -> list[Finding]:
    findings = [check_python()]
    connected, conn = connect_checks(settings)
    findings += connected
    if conn is None:
        return findings
    with conn:
        findings += check_privileges(conn)
        findings += check_migrations(conn, settings)
        findings.append(check_lock(conn, settings))
    return findings
