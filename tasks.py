"""Invoke tasks: parse flags, call one service, turn its errors into exit codes. Nothing else.

Services are imported inside `_run`, so `inv --list` and `inv --help` load neither psycopg nor
pydantic nor rich.
"""

from __future__ import annotations

import importlib
import logging
import signal
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import task

PROJECT_ROOT = Path(__file__).absolute().parent
log = logging.getLogger("provisioning.tasks")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so psycopg cancels the query in flight."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def _run(target: str, overrides: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """The one boundary: run the service; Ctrl-C and SIGTERM at any point give 130 / 143."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _serve(target, overrides or {}, kwargs)
    except _Terminated:
        _exit_interrupted("Terminated by SIGTERM", terminated=True)
    except KeyboardInterrupt:
        _exit_interrupted("Interrupted by Ctrl-C", terminated=False)


def _serve(target: str, overrides: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """Load settings, configure logs, call `module:function`; map every failure to one line."""
    try:
        from provisioning import logs

        logs.configure_fallback()
        from provisioning.errors import ExitCode, ProvisioningError
        from provisioning.settings import load_settings
    except ImportError as exc:  # a runtime dependency is not installed
        _fail_missing_dependency(exc)
    settings = None
    try:
        settings = load_settings(PROJECT_ROOT, **overrides)  # exit 1 before any DB work
        logs.configure(settings)
        module_name, function_name = target.split(":")
        service = getattr(importlib.import_module(f"provisioning.{module_name}"), function_name)
        code = service(settings, **kwargs)
    except ProvisioningError as err:
        _log_error(err.message, err.exit_code, err.suggestion, err.fields)
        raise Exit(code=int(err.exit_code)) from None
    except Exception as exc:
        from provisioning.redact import redact

        debug = settings is not None and settings.log_level == "debug"
        log.error(
            "Unexpected error",
            exc_info=debug,  # the traceback only at LOG_LEVEL=debug, redacted by the filter
            extra={
                "fields": {
                    "error": redact(f"{type(exc).__name__}: {exc}"),
                    "exitCode": int(ExitCode.GENERAL),
                    "suggestion": "Re-run with LOG_LEVEL=debug and report the traceback.",
                }
            },
        )
        raise Exit(code=int(ExitCode.GENERAL)) from None
    if isinstance(code, int) and code:  # services that decide an exit code return it
        raise Exit(code=code)


def _exit_interrupted(message: str, *, terminated: bool) -> None:
    """One error line, then exit 130/143; logging may not be configured yet at start-up."""
    from provisioning import logs
    from provisioning.errors import InterruptedRunError, TerminatedRunError

    if not logging.getLogger(logs.ROOT_LOGGER).handlers:
        logs.configure_fallback()
    err = TerminatedRunError(message) if terminated else InterruptedRunError(message)
    _log_error(err.message, err.exit_code, err.suggestion, err.fields)
    raise Exit(code=int(err.exit_code))


def _log_error(message: str, code: int, suggestion: str, fields: dict[str, Any]) -> None:
    log.error(
        message, extra={"fields": {**fields, "exitCode": int(code), "suggestion": suggestion}}
    )


def _fail_missing_dependency(exc: ImportError) -> None:
    import json
    import sys
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    line = {
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "level": "error",
        "message": f"Required package missing: {exc.name or exc}",
        "exitCode": 127,
        "suggestion": 'Install the project\'s dependencies: pip install -e ".[dev]"',
    }
    sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    raise Exit(code=127)


@task(help={"timeout": "Readiness timeout in milliseconds (overrides DB_TIMEOUT)."})
def wait(c, timeout=None):  # type: ignore[no-untyped-def]
    """Wait until PostgreSQL answers SELECT 1, backing off with jitter."""
    _run("readiness:wait_for_database", {"db_timeout": timeout})


@task(
    help={
        "dry_run": "Validate the folder and list what would run; change nothing.",
        "single_transaction": "Apply all pending files in one transaction (fast CI path).",
    }
)
def migrate(c, dry_run=False, single_transaction=False):  # type: ignore[no-untyped-def]
    """Apply pending migrations, each in its own transaction with its tracking row."""
    _run("migrate:run_migrate", dry_run=dry_run, single_transaction=single_transaction)


@task
def status(c):  # type: ignore[no-untyped-def]
    """Show every migration: applied, pending, checksum mismatch or missing file."""
    _run("status:show_status")


@task
def verify(c):  # type: ignore[no-untyped-def]
    """Run the runbook's verification checks: connectivity, tracking table, checksums, counts."""
    _run("verify:run_verify")


@task(help={"skip": "Skip seeding (same as SKIP_SEED=true)."})
def seed(c, skip=False):  # type: ignore[no-untyped-def]
    """Load the idempotent development data in seeds/ in one transaction."""
    _run("seeding:run_seed", {"skip_seed": True if skip else None})


@task(
    help={
        "skip_seed": "Skip seeding (same as SKIP_SEED=true).",
        "timeout": "Readiness timeout in milliseconds (overrides DB_TIMEOUT).",
        "single_transaction": "Apply all pending migrations in one transaction.",
    }
)
def provision(c, skip_seed=False, timeout=None, single_transaction=False):  # type: ignore[no-untyped-def]
    """Check dependencies, wait for the database, migrate, seed; log one summary line."""
    from provisioning.deps import check_dependencies
    from provisioning.errors import DependencyError

    try:
        check_dependencies()
    except DependencyError as err:  # before settings: a missing package may be pydantic itself
        from provisioning import logs

        logs.configure_fallback()
        _log_error(err.message, err.exit_code, err.suggestion, err.fields)
        raise Exit(code=int(err.exit_code)) from None
    _run(
        "pipeline:provision",
        {"db_timeout": timeout, "skip_seed": True if skip_seed else None},
        single_transaction=single_transaction,
    )


@task(
    help={
        "yes": "Do not ask for confirmation (required off a terminal).",
        "no_provision": "Stop after destroying the data; do not provision again.",
    }
)
def reset(c, yes=False, no_provision=False):  # type: ignore[no-untyped-def]
    """Development only: destroy all data, then provision again."""
    _run("reset:reset_database", yes=yes, provision_after=not no_provision)


@task(help={"steps": "How many migrations to undo, newest applied first (default 1)."})
def rollback(c, steps=1):  # type: ignore[no-untyped-def]
    """Undo the newest applied migration(s) with their .down.sql files."""
    _run("rollback:rollback", steps=int(steps))


@task(
    help={
        "filename": "The tracking row to delete, e.g. 001_create_schema.up.sql.",
        "yes": "Do not ask for confirmation (required off a terminal).",
    }
)
def forget(c, filename, yes=False):  # type: ignore[no-untyped-def]
    """Delete one schema_migrations row (the runbook's manual fix), after confirmation."""
    _run("rollback:forget", filename=filename, yes=yes)


@task(help={"name": "What the migration does, e.g. add_invoices (letters, digits, _)."})
def new(c, name):  # type: ignore[no-untyped-def]
    """Create the next-numbered NNN_name.up.sql / .down.sql pair."""
    _run("scaffold:new_migration", name=name)


@task
def doctor(c):  # type: ignore[no-untyped-def]
    """Check every cause in the troubleshooting matrix and print the fix for each."""
    _run("doctor:run_doctor")


@task(name="start")
def server_start(c):  # type: ignore[no-untyped-def]
    """Start the embedded PostgreSQL server (initialising .pgdata/ on first use)."""
    _run("server:start_server")


@task(name="stop")
def server_stop(c):  # type: ignore[no-untyped-def]
    """Stop the embedded PostgreSQL server."""
    _run("server:stop_server")


@task(name="status")
def server_status(c):  # type: ignore[no-untyped-def]
    """Say whether the embedded PostgreSQL server is running, and where."""
    _run("server:server_status")


ns = Collection(
    wait, migrate, status, verify, seed, provision, reset, rollback, forget, new, doctor
)
ns.add_collection(Collection("server", server_start, server_stop, server_status))
