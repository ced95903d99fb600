"""The dependency check (exit 127): Python version and required packages.

A package counts as missing when importing it fails, not only when it is absent: a broken
install (a missing shared library, a stale wheel) fails here rather than mid-migration.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

from provisioning.errors import DependencyError

MIN_PYTHON = (3, 11)
# Import names of the runtime dependencies `provision` needs.
REQUIRED_PACKAGES = ("invoke", "psycopg", "pydantic_settings", "rich", "pglast")
PYTHON_TOO_OLD = "Python version must be {need} or higher (found: {found})"
PACKAGE_MISSING = "Required package missing: {name}"


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def missing_packages(names: Iterable[str]) -> list[str]:
    return [name for name in names if not _importable(name)]


def check_dependencies(
    *,
    version: tuple[int, ...] = tuple(sys.version_info[:2]),
    packages: Iterable[str] = REQUIRED_PACKAGES,
) -> None:
    """Raise DependencyError (exit 127) for a Python older than 3.11 or a missing package."""
    if tuple(version[:2]) < MIN_PYTHON:
        raise DependencyError(
            PYTHON_TOO_OLD.format(
                need=".".join(map(str, MIN_PYTHON)), found=".".join(map(str, version[:2]))
            ),
            suggestion="Install Python 3.11 or newer (e.g. `pyenv install 3.11`) and reinstall.",
        )
    missing = missing_packages(packages)
    if missing:
        raise DependencyError(
            PACKAGE_MISSING.format(name=", ".join(missing)),
            suggestion='Install the project\'s dependencies: pip install -e ".[dev]"',
            missing=missing,
        )
