"""Discover and validate `{number}_{description}.up.sql` files; checksums; pure, no DB.

Every file is read once: its bytes are hashed (lowercase hex SHA-256 of the raw bytes, BOM
and CRLF included), decoded as UTF-8 and checked for emptiness there and then. Callers that
will apply files may pass a `texts` dict to keep the decoded text (up to a memory budget)
so a pending file is not read again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioning.errors import BadMigrationFileError

log = logging.getLogger(__name__)

NO_TRANSACTION_MARKER = "-- provision:no-transaction"
UP_SUFFIX = ".up.sql"
DOWN_SUFFIX = ".down.sql"
NAME_PATTERN = re.compile(
    r"^(?P<number>[0-9]+)_(?P<description>[A-Za-z0-9][A-Za-z0-9_-]*)\.(?P<kind>up|down)\.sql$"
)
TEXT_BUDGET_BYTES = 64 * 1024 * 1024  # texts kept for applying; beyond this they are re-read

BAD_NAME = "does not follow {number}_{description}.up.sql"
DUPLICATE = "has the same number as {other}"
NOT_UTF8 = "is not valid UTF-8"
NUL_BYTE = "contains a NUL byte, which PostgreSQL does not accept in SQL text"
EMPTY = "is empty (only whitespace and comments)"
OUTSIDE = "is a symlink that points outside the migrations folder"
UNREADABLE = "cannot be read"
FOLDER_MISSING = "Migrations folder not found"
IGNORED = "Ignoring a file that is not a migration"
ORPHAN_DOWN = "Down migration without its up migration"
TEXT_SUGGESTION = "Save the file as UTF-8 text (not UTF-16, not binary), then run again."


@dataclass(frozen=True)
class MigrationFile:
    number: int
    description: str
    filename: str  # e.g. 001_create_organizations.up.sql, as stored in schema_migrations
    path: Path
    down_path: Path | None
    no_transaction: bool
    checksum: str


def parse_name(filename: str) -> tuple[int, str, str] | None:
    """(number, description, 'up'|'down') for a migration file name, else None."""
    match = NAME_PATTERN.match(filename)
    if not match:
        return None
    return int(match["number"]), match["description"], match["kind"]


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes) -> str:
    """UTF-8 text without a leading byte-order mark (raises UnicodeDecodeError)."""
    return data.decode("utf-8").removeprefix("\ufeff")


def has_marker(text: str) -> bool:
    first = text.split("\n", 1)[0]
    return first.strip() == NO_TRANSACTION_MARKER


def is_empty_sql(text: str) -> bool:
    """True when the text holds only whitespace, `--` comments and (nested) `/* */` comments."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            return False
    return True


def _refuse(path: Path, rule: str, **fields: Any) -> BadMigrationFileError:
    return BadMigrationFileError(
        f"Bad migration file {path.name}: it {rule}", filename=path.name, rule=rule, **fields
    )


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(folder)
    except (OSError, ValueError):
        return False
    return True


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _refuse(path, UNREADABLE, error=exc.strerror or str(exc)) from None


def discover_migrations(
    directory: Path, texts: MutableMapping[str, str] | None = None
) -> list[MigrationFile]:
    """Validate the whole folder and return its up migrations ordered by number.

    Raises BadMigrationFileError (exit 3) naming the file and the rule it breaks.
    """
    if not directory.is_dir():
        raise BadMigrationFileError(
            FOLDER_MISSING,
            path=str(directory),
            suggestion="Create the folder or point MIGRATIONS_DIR at it.",
        )
    folder = directory.resolve()
    ups: dict[int, tuple[Path, str]] = {}
    downs: dict[tuple[int, str], Path] = {}
    # scandir's entries know their type without a stat call, and sorting plain names is
    # several times cheaper than sorting Path objects: it matters for thousands of files.
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        path = Path(entry.path)
        if entry.is_symlink() and not _inside(path, folder):
            raise _refuse(path, OUTSIDE)
        if entry.name.startswith(".") or entry.is_dir():
            continue
        parsed = parse_name(entry.name)
        if parsed is None:
            if path.name.lower().endswith(".sql"):
                raise _refuse(path, BAD_NAME)
            log.debug(IGNORED, extra={"fields": {"filename": path.name}})
            continue
        number, description, kind = parsed
        if kind == "down":
            downs[(number, description)] = path
        elif number in ups:
            raise _refuse(path, DUPLICATE.format(other=ups[number][0].name))
        else:
            ups[number] = (path, description)
    files = []
    kept = 0
    for number in sorted(ups):
        path, description = ups[number]
        data = read_bytes(path)
        try:
            text = decode(data)
        except UnicodeDecodeError as exc:
            raise _refuse(
                path, NOT_UTF8, byteOffset=exc.start, suggestion=TEXT_SUGGESTION
            ) from None
        if "\x00" in text:  # libpq would silently cut the query at it
            raise _refuse(
                path, NUL_BYTE, byteOffset=data.index(b"\x00"), suggestion=TEXT_SUGGESTION
            )
        if is_empty_sql(text):
            raise _refuse(path, EMPTY, suggestion="Write the migration's SQL, or delete the file.")
        if texts is not None and kept + len(data) <= TEXT_BUDGET_BYTES:
            texts[path.name] = text
            kept += len(data)
        down = downs.pop((number, description), None)
        files.append(
            MigrationFile(
                number, description, path.name, path, down, has_marker(text), checksum(data)
            )
        )
    for path in downs.values():
        log.warning(ORPHAN_DOWN, extra={"fields": {"filename": path.name}})
    return files


def read_sql(path: Path) -> str:
    """A SQL file's text for running (a down file): refused if not UTF-8 or holding a NUL."""
    data = read_bytes(path)
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        raise _refuse(path, NOT_UTF8, byteOffset=exc.start, suggestion=TEXT_SUGGESTION) from None
    if "\x00" in text:
        raise _refuse(path, NUL_BYTE, byteOffset=data.index(b"\x00"), suggestion=TEXT_SUGGESTION)
    return text


def read_text(mf: MigrationFile) -> str:
    """Read a file again for applying; refuse it if it changed since it was validated."""
    data = read_bytes(mf.path)
    if checksum(data) != mf.checksum:
        raise _refuse(mf.path, "changed while the run was in progress")
    return decode(data)
