"""The tools measured side by side: how each is invoked for every scenario.

Every tool gets the same database URL and its own copy of the corpus in its own format.
A `None` command means the tool has no such scenario (psql has no "status").
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.corpus import CorpusFiles

REPO_ROOT = Path(__file__).absolute().parent.parent
BIN = Path(sys.executable).parent
IMPORT_FLOOR = "import psycopg, pydantic_settings, rich, invoke"

# Variables this project reads: scrubbed so the caller's shell cannot change what is measured.
_PROJECT_VARS = (
    "DATABASE_URL", "DB_TIMEOUT", "SKIP_SEED", "LOG_LEVEL", "LOG_FORMAT", "APP_ENV",
    "MIGRATIONS_DIR", "SEEDS_DIR", "DB_BACKOFF_BASE_MS", "DB_BACKOFF_MAX_MS",
    "DB_BACKOFF_JITTER", "DB_MAX_ATTEMPTS", "DB_LOCK_TIMEOUT", "MIGRATION_LOCK_TIMEOUT",
)  # fmt: skip


def _exe(name: str) -> str:
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: pip install -e '.[bench]' (psql: apt-get install "
                         "postgresql-client)")  # fmt: skip
    return found


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PROJECT_VARS}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


Command = Callable[[str, CorpusFiles], list[str]]  # (database URL, corpus) -> argv


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    fresh: Command | None = None
    rerun: Command | None = None
    status: Command | None = None
    tracking_table: str | None = None
    env: Callable[[str, CorpusFiles], dict[str, str]] = field(default=lambda url, files: base_env())
    cwd: Path = REPO_ROOT


def _nexus_env(url: str, files: CorpusFiles) -> dict[str, str]:
    env = base_env()
    env.update(DATABASE_URL=url, MIGRATIONS_DIR=str(files.nexus), LOG_FORMAT="json")
    return env


def _dbmate(url: str, files: CorpusFiles, verb: str) -> list[str]:
    return [_exe("dbmate"), "--url", f"{url}?sslmode=disable", "--migrations-dir",
            str(files.dbmate), "--no-dump-schema", verb]  # fmt: skip


def _yoyo(url: str, files: CorpusFiles, verb: str) -> list[str]:
    yoyo_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return [_exe("yoyo"), verb, "--batch", "--no-config-file", "--database", yoyo_url,
            str(files.yoyo)]  # fmt: skip


def _psql(url: str, files: CorpusFiles) -> list[str]:
    return [_exe("psql"), "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", url,
            "-f", str(files.concatenated)]  # fmt: skip


def _async_env(url: str, files: CorpusFiles) -> dict[str, str]:
    """The transaction shape `inv migrate` uses (a commit per file, no WAL flush wait)."""
    env = base_env()
    env["PGOPTIONS"] = "-c synchronous_commit=off"
    return env


def _psql_per_file(url: str, files: CorpusFiles) -> list[str]:
    return [_exe("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
            "-f", str(files.per_file)]  # fmt: skip


def all_tools() -> dict[str, Tool]:
    inv = _exe("inv")
    python = sys.executable
    tools = [
        Tool(
            "nexus", "this project (inv migrate)",
            fresh=lambda url, f: [inv, "migrate"],
            rerun=lambda url, f: [inv, "migrate"],
            status=lambda url, f: [inv, "status"],
            tracking_table="schema_migrations", env=_nexus_env,
        ),
        Tool(
            "nexus-1tx", "this project (inv migrate --single-transaction)",
            fresh=lambda url, f: [inv, "migrate", "--single-transaction"],
            tracking_table="schema_migrations", env=_nexus_env,
        ),
        Tool(
            "nexus-provision", "this project (inv provision --skip-seed)",
            rerun=lambda url, f: [inv, "provision", "--skip-seed"],
            tracking_table="schema_migrations", env=_nexus_env,
        ),
        Tool(
            "dbmate", "dbmate",
            fresh=lambda url, f: _dbmate(url, f, "migrate"),
            rerun=lambda url, f: _dbmate(url, f, "migrate"),
            status=lambda url, f: _dbmate(url, f, "status"),
            tracking_table="schema_migrations",
        ),
        Tool(
            "yoyo", "yoyo-migrations",
            fresh=lambda url, f: _yoyo(url, f, "apply"),
            rerun=lambda url, f: _yoyo(url, f, "apply"),
            status=lambda url, f: _yoyo(url, f, "list"),
            tracking_table="_yoyo_migration",
        ),
        Tool("psql", "psql -1 -f (floor)", fresh=_psql),
        Tool("psql-per-file", "psql -f, one transaction per file", fresh=_psql_per_file),
        Tool(
            "psql-per-file-async", "psql -f, one transaction per file, asynchronous commit",
            fresh=_psql_per_file, env=_async_env,
        ),
        Tool(
            "python-floor", f'python -c "{IMPORT_FLOOR}"',
            rerun=lambda url, f: [python, "-c", IMPORT_FLOOR],
            status=lambda url, f: [python, "-c", IMPORT_FLOOR],
        ),
    ]  # fmt: skip
    return {tool.name: tool for tool in tools}


def startup_commands() -> dict[str, list[str]]:
    """Start-up cases that need no database: the CLI's own cost and the Python floors."""
    inv = _exe("inv")
    python = sys.executable
    return {
        "inv --list": [inv, "--list"],
        "inv --help migrate": [inv, "--help", "migrate"],
        "python import floor": [python, "-c", IMPORT_FLOOR],
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import invoke'": [python, "-c", "import invoke"],
    }
