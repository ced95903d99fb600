"""`inv status`: every migration known from the folder or the tracking table, with its state.

Read-only: it never creates the tracking table (no table means every file is pending).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from provisioning import db
from provisioning.migration_files import MigrationFile, discover_migrations
from provisioning.migrations import AppliedRow, applied_rows, number_of, tracking_table_exists
from provisioning.settings import Settings

log = logging.getLogger(__name__)

APPLIED = "applied"
PENDING = "pending"
MISMATCH = "checksum mismatch"
MISSING = "missing file"
STATUS_LINE = "Migration status"
STATUS_SUMMARY = "Migration status summary"
NO_TRACKING_TABLE = "No tracking table schema_migrations yet: every file is pending"


@dataclass(frozen=True)
class StatusRow:
    filename: str
    state: str
    applied_at: datetime | None


def status_rows(files: Sequence[MigrationFile], applied: Sequence[AppliedRow]) -> list[StatusRow]:
    """Pure: the folder and the table merged, ordered by number (unnumbered rows last)."""
    by_name = {row.filename: row for row in applied}
    keyed: list[tuple[tuple[int, int, str], StatusRow]] = []
    for mf in files:
        row = by_name.get(mf.filename)
        if row is None:
            keyed.append(((0, mf.number, mf.filename), StatusRow(mf.filename, PENDING, None)))
        else:
            state = APPLIED if row.checksum.strip().lower() == mf.checksum else MISMATCH
            keyed.append(
                ((0, mf.number, mf.filename), StatusRow(mf.filename, state, row.applied_at))
            )
    on_disk = {mf.filename for mf in files}
    for row in applied:
        if row.filename not in on_disk:
            number = number_of(row.filename)
            key = (0, number, row.filename) if number is not None else (1, row.id, row.filename)
            keyed.append((key, StatusRow(row.filename, MISSING, row.applied_at)))
    return [status for _, status in sorted(keyed, key=lambda item: item[0])]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else None


def show_status(settings: Settings) -> int:
    files = discover_migrations(settings.migrations_dir)
    with db.connect(settings) as conn:
        exists = tracking_table_exists(conn)
        rows = applied_rows(conn) if exists else []
    if not exists:
        log.info(NO_TRACKING_TABLE)
    statuses = status_rows(files, rows)
    from provisioning import logs

    if logs.is_pretty():
        from provisioning.console import print_table

        print_table(
            "Migrations",
            ["filename", "state", "applied at"],
            [[s.filename, s.state, _iso(s.applied_at) or ""] for s in statuses],
        )
    else:
        for s in statuses:
            fields = {"filename": s.filename, "state": s.state, "appliedAt": _iso(s.applied_at)}
            log.info(STATUS_LINE, extra={"fields": fields})
    counts = Counter(s.state for s in statuses)
    summary = {
        "total": len(statuses),
        "applied": counts[APPLIED],
        "pending": counts[PENDING],
        "checksumMismatch": counts[MISMATCH],
        "missingFile": counts[MISSING],
    }
    log.info(STATUS_SUMMARY, extra={"fields": summary})
    return 0
