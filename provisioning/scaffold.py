"""`inv new NAME`: write the next-numbered `NNN_name.up.sql` / `.down.sql` pair.

The number keeps the folder's width (005 → 006; width 3 in an empty folder). The templates hold
only comments, so `inv migrate` refuses them as empty until they are edited.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from provisioning.errors import RefusedError
from provisioning.migration_files import UP_SUFFIX, parse_name
from provisioning.settings import Settings

log = logging.getLogger(__name__)

NUMBERED = re.compile(r"^(\d+)_.+\.(?:up|down)\.sql$")
DEFAULT_WIDTH = 3
MIGRATION_CREATED = "Migration files created"
BAD_NAME = "Invalid migration name: {name!r}"
BAD_NAME_SUGGESTION = (
    "Use letters, digits, underscores and hyphens, starting with a letter or digit "
    "(e.g. add_invoices), so the file matches NNN_description.up.sql."
)

UP_TEMPLATE = """\
-- {filename}
-- This migration is empty until edited: `inv migrate` refuses a file that holds only comments.
-- Write the forward change below; it runs in one transaction with its tracking row.
-- (Put `-- provision:no-transaction` on its own line for statements such as
-- CREATE INDEX CONCURRENTLY that cannot run inside a transaction.)
"""

DOWN_TEMPLATE = """\
-- {filename}
-- This rollback is empty until edited: write the SQL that undoes {up_filename} below.
-- `inv rollback` runs it and deletes the tracking row in one transaction.
"""


@dataclass(frozen=True)
class NewMigration:
    number: int
    up_path: Path
    down_path: Path


def next_number(filenames: list[str]) -> tuple[int, int]:
    """(next number, digit width) for a folder holding `filenames`. Pure."""
    numbered = [(int(m.group(1)), len(m.group(1))) for f in filenames if (m := NUMBERED.match(f))]
    if not numbered:
        return 1, DEFAULT_WIDTH
    number, width = max(numbered)
    return number + 1, width


def plan_new_migration(migrations_dir: Path, name: str, existing: list[str]) -> NewMigration:
    """The paths of the new pair; RefusedError (exit 1) for a name that breaks the pattern."""
    number, width = next_number(existing)
    stem = f"{number:0{width}d}_{name}"
    if parse_name(stem + UP_SUFFIX) != (number, name, "up"):  # the engine's own file-name rule
        raise RefusedError(BAD_NAME.format(name=name), suggestion=BAD_NAME_SUGGESTION)
    return NewMigration(
        number, migrations_dir / f"{stem}.up.sql", migrations_dir / f"{stem}.down.sql"
    )


def new_migration(settings: Settings, name: str) -> NewMigration:
    """Create the pair in MIGRATIONS_DIR (creating the folder); never overwrite a file."""
    folder = settings.migrations_dir
    existing = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    plan = plan_new_migration(folder, name, existing)
    folder.mkdir(parents=True, exist_ok=True)
    up_text = UP_TEMPLATE.format(filename=plan.up_path.name)
    down_text = DOWN_TEMPLATE.format(filename=plan.down_path.name, up_filename=plan.up_path.name)
    try:
        with plan.up_path.open("x", encoding="utf-8") as up:
            up.write(up_text)
        try:
            with plan.down_path.open("x", encoding="utf-8") as down:
                down.write(down_text)
        except FileExistsError:
            plan.up_path.unlink()  # never leave half a pair behind
            raise
    except FileExistsError as exc:
        raise RefusedError(
            f"Migration file already exists: {Path(str(exc.filename)).name}",
            suggestion="Another `inv new` ran at the same time; run it again.",
        ) from None
    log.info(
        MIGRATION_CREATED,
        extra={
            "fields": {
                "upFile": str(plan.up_path),
                "downFile": str(plan.down_path),
                "number": plan.number,
            }
        },
    )
    return plan
