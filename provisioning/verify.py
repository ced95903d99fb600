"""`inv verify`: the runbook's Verification section as data, one line per check.

Exit 0 when every check holds, 3 on drift or pending files, 2 when the server is unreachable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from provisioning import db
from provisioning.errors import ExitCode, ReadinessError
from provisioning.migration_files import MigrationFile, discover_migrations
from provisioning.migrations import AppliedRow, applied_rows, plan_migrations, tracking_table_exists
from provisioning.settings import Settings

log = logging.getLogger(__name__)

CHECK_LINE = "Verification check"
VERIFY_PASSED = "Verification passed"
VERIFY_FAILED = "Verification failed"
SUGGESTION = "Run `inv status` to see which files differ, then `inv migrate` (or restore files)."


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def migration_checks(
    files: list[MigrationFile], rows: list[AppliedRow], table_exists: bool
) -> list[Check]:
    """Pure: the checks after connectivity, from the folder and the tracking rows."""
    plan = plan_migrations(files, rows)
    bad = ", ".join(m.filename for m in plan.mismatches)
    return [
        Check(
            "tracking table",
            table_exists,
            "schema_migrations exists" if table_exists else "schema_migrations does not exist",
        ),
        Check(
            "checksums",
            not plan.mismatches,
            f"{len(plan.applied)} applied files match" if not bad else f"changed: {bad}",
        ),
        Check(
            "applied count",
            len(rows) == len(files),
            f"{len(rows)} applied rows, {len(files)} .up.sql files",
        ),
        Check(
            "nothing pending",
            not plan.pending,
            f"{len(plan.pending)} pending"
            + (": " + ", ".join(mf.filename for mf in plan.pending[:5]) if plan.pending else ""),
        ),
    ]


def _report(check: Check) -> None:
    fields = {"check": check.name, "ok": check.ok, "detail": check.detail}
    (log.info if check.ok else log.error)(CHECK_LINE, extra={"fields": fields})


def run_verify(settings: Settings) -> int:
    files = discover_migrations(settings.migrations_dir)
    try:
        with db.connect(settings) as conn:
            db.ping(conn)
            _report(Check("connectivity", True, "SELECT 1 answered"))
            exists = tracking_table_exists(conn)
            rows = applied_rows(conn) if exists else []
    except ReadinessError as exc:
        _report(Check("connectivity", False, str(exc)))
        raise
    checks = migration_checks(files, rows, exists)
    for check in checks:
        _report(check)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        fields = {"failed": failed, "exitCode": int(ExitCode.MIGRATION), "suggestion": SUGGESTION}
        log.error(VERIFY_FAILED, extra={"fields": fields})
        return int(ExitCode.MIGRATION)
    log.info(VERIFY_PASSED, extra={"fields": {"checks": len(checks) + 1}})
    return 0
