"""`inv provision`: readiness → migrations → seed, then one summary line.

The task checks dependencies first (exit 127). A failing stage raises its own error (exit 2
or 3) and `tasks._run` logs it as the last line. A failing seed is the runbook's non-fatal
warning: provisioning still succeeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from provisioning import logs, seeding
from provisioning.errors import ProvisioningError
from provisioning.readiness import wait_for_database
from provisioning.settings import Settings

log = logging.getLogger(__name__)

PROVISION_STARTED = "Database provisioning started"
PROVISION_COMPLETED = "Database provisioning completed successfully"
SEED_FAILED_NON_FATAL = "Database seed failed (non-fatal)"
SEED_FAILED_SUGGESTION = (
    "Seeds are for development: use SKIP_SEED=true in production, or fix the named seed file "
    "and run `inv seed`."
)


@dataclass(frozen=True)
class Summary:
    duration_seconds: float
    readiness_attempts: int
    migrations_applied: int
    seeded: bool
    seed_rows_inserted: int | None

    def fields(self) -> dict[str, Any]:
        """The summary line's fields, in the contract's spelling."""
        return {
            "durationSeconds": self.duration_seconds,
            "readinessAttempts": self.readiness_attempts,
            "migrationsApplied": self.migrations_applied,
            "seeded": self.seeded,
            "seedRowsInserted": self.seed_rows_inserted,
        }


@contextmanager
def _stage(text: str, *, spinner: bool = True) -> Iterator[None]:
    """A spinner on the terminal while a stage runs (pretty mode only; JSON stays plain).

    The migrations stage shows no spinner: migrate draws its own progress bar for long runs,
    and rich allows one live display at a time.
    """
    if not logs.is_pretty():
        yield
        return
    from provisioning.console import err

    if spinner:
        with err().status(text):
            yield
    else:
        err().print(f"[bold]→[/bold] {text}")
        yield
    err().print(f"[green]✓[/green] {text.removesuffix('…')}")


def _seed(settings: Settings) -> tuple[bool, int | None]:
    """(seeded, rows inserted); a failure is logged as the runbook's non-fatal warning."""
    reason = settings.seeding_skipped_reason
    if reason:
        seeding.log_skipped(reason)
        return False, None
    try:
        result = seeding.run_seed(settings)
    except ProvisioningError as exc:
        fields = {**exc.fields, "error": exc.fields.get("error", exc.message)}
        log.warning(
            SEED_FAILED_NON_FATAL,
            extra={"fields": {**fields, "suggestion": SEED_FAILED_SUGGESTION}},
        )
        return False, None
    return result is not None, result.rows_inserted if result else None


def provision(settings: Settings, single_transaction: bool = False) -> Summary:
    """Run every stage in order and log `Database provisioning completed successfully`."""
    from provisioning.migrate import run_migrate

    # The dependency check (exit 127) runs in the `provision` task itself, before settings
    # are loaded: a missing package may be pydantic, which loading settings already needs.
    started = time.monotonic()
    log.info(PROVISION_STARTED, extra={"fields": {"appEnv": settings.app_env}})
    with _stage("Waiting for the database…"):
        readiness = wait_for_database(settings)
    with _stage("Applying migrations…", spinner=False):
        migrated = run_migrate(settings, dry_run=False, single_transaction=single_transaction)
    with _stage("Seeding…"):
        seeded, rows = _seed(settings)
    summary = Summary(
        duration_seconds=round(time.monotonic() - started, 3),
        readiness_attempts=readiness.attempts,
        migrations_applied=migrated.applied,
        seeded=seeded,
        seed_rows_inserted=rows,
    )
    log.info(PROVISION_COMPLETED, extra={"fields": summary.fields()})
    return summary
