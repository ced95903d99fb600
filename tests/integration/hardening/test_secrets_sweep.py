"""Secrets sweep: every task, in every failure mode it can be driven into, never shows a password.

A throwaway PostgreSQL that really checks passwords (scram-sha-256) holds two login roles whose
passwords are full of characters that URLs, JSON, Python reprs and libpq conninfo all escape.
Each task runs from a temporary project root at LOG_LEVEL debug and info, in JSON and pretty
mode; stdout, stderr, every file under that project root and every file the run changed in
the repository are searched for each spelling of both passwords. The server's own log is
searched too (it is PostgreSQL's, outside the project's control, but it should hold none).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import psycopg
import pytest
from conftest import PROJECT_ROOT, InvResult, run_inv
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pg_throwaway import ThrowawayServer, create_server, destroy_server, free_port

PASSWORD = "p@ss:w/rd%\"\\'"
VARIANT = "Vä ri@nt#?&=;{}/\\'\"%41:x"
SECRETS = (PASSWORD, VARIANT)
TASKS: list[list[str]] = [
    ["wait"], ["migrate"], ["status"], ["verify"], ["seed"], ["provision"], ["reset", "--yes"],
    ["rollback"], ["forget", "999_unknown.up.sql", "--yes"], ["new", "add_things"], ["doctor"],
    ["server.status"],
]  # fmt: skip
COMBOS = [("debug", "json"), ("info", "pretty"), ("info", "json"), ("debug", "pretty")]
REPEAT = int(os.environ.get("HARDENING_REPEAT", "1"))
RUNS: list[str] = []  # every (mode, task, level, format) run, for the README figure


def forms(secret: str) -> set[str]:
    """Every spelling of `secret` that would count as a leak."""
    spelled = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
    }
    return {s for s in spelled if len(s) >= 6}


ALL_FORMS = {form for secret in SECRETS for form in forms(secret)}


def leaks_in(text: str) -> list[str]:
    flat = "".join(text.split())  # rich may wrap a long line anywhere
    return sorted(f for f in ALL_FORMS if f in text or "".join(f.split()) in flat)


def kv_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Sweep:
    server: ThrowawayServer
    root: Path

    def url(self, role: str, password: str, db: str) -> str:
        return f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{self.server.port}/{db}"

    def keyvalue(self, role: str, password: str, db: str) -> str:
        return (
            f"host=127.0.0.1 port={self.server.port} user={role} dbname={db} "
            f"password={kv_quote(password)} sslmode=disable"
        )

    def run(self, mode: str, task: list[str], combos: list[tuple[str, str]], **env: Any) -> None:
        for level, fmt in combos:
            result = run_inv(
                *task, cwd=self.root, timeout=120, LOG_LEVEL=level, LOG_FORMAT=fmt,
                APP_ENV="development", **env,
            )  # fmt: skip
            RUNS.append(f"{mode} {' '.join(task)} {level} {fmt}")
            self.check(result, f"{mode}: inv {' '.join(task)} ({level}, {fmt})")

    @staticmethod
    def check(result: InvResult, where: str) -> None:
        found = leaks_in(result.stdout + result.stderr)
        assert not found, f"{where} printed {found}:\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr or "debug" in where, where


def combos_for(index: int) -> list[tuple[str, str]]:
    """Both levels and both formats for every task; all four pairs when HARDENING_REPEAT > 1."""
    if REPEAT > 1:
        return COMBOS
    return [COMBOS[0], COMBOS[1]] if index % 2 == 0 else [COMBOS[2], COMBOS[3]]


@pytest.fixture(scope="module")
def sweep() -> Iterator[Sweep]:
    server = create_server()
    server.start()
    root = Path(tempfile.mkdtemp(prefix="nexus-secrets-"))
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            for role, password in (("app", PASSWORD), ("app2", VARIANT)):
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(f"{role}db"), sql.Identifier(role)
                    )
                )
        (root / "tasks.py").symlink_to(PROJECT_ROOT / "tasks.py")
        shutil.copytree(PROJECT_ROOT / "migrations", root / "migrations")
        shutil.copytree(PROJECT_ROOT / "seeds", root / "seeds")
        yield Sweep(server, root)
    finally:
        destroy_server(server)
        shutil.rmtree(root, ignore_errors=True)


def scan_files(root: Path, since: float | None = None) -> list[str]:
    """Files under `root` (changed after `since`, if given) holding any spelling of a secret."""
    bad = []
    skip = {".git", ".venv", ".pgdata", "__pycache__", ".mypy_cache", ".ruff_cache", "node_modules"}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if since is not None and path.stat().st_mtime < since:
                    continue
                text = path.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            if leaks_in(text):
                bad.append(str(path))
    return bad


def drop_new_files(root: Path) -> None:
    """`inv new` wrote an empty pair (after the scan saw it); remove it so migrate can run."""
    assert scan_files(root) == []
    for path in (root / "migrations").glob("*add_things*"):
        path.unlink()


@pytest.mark.slow
def test_connection_failures_on_every_task(sweep: Sweep) -> None:
    started = time.time()
    modes = {
        "wrong password (URL)": {"DATABASE_URL": sweep.url("app2", PASSWORD, "app2db")},
        "wrong password (key=value)": {"DATABASE_URL": sweep.keyvalue("app", VARIANT, "appdb")},
        "unreachable host": {
            "DATABASE_URL": sweep.url("app", PASSWORD, "appdb").replace(
                f":{sweep.server.port}/", f":{free_port()}/"
            ),
            "DB_TIMEOUT": "1200",
            "DB_BACKOFF_BASE_MS": "100",
        },
        "bad URL": {"DATABASE_URL": sweep.url("app", PASSWORD, "appdb") + "?colour=" + VARIANT},
        "bad key=value": {"DATABASE_URL": f"host=db password={PASSWORD} port"},
        "nonexistent database": {"DATABASE_URL": sweep.url("app", PASSWORD, "no_such_db")},
    }
    for mode, env in modes.items():
        for index, task in enumerate(TASKS):
            sweep.run(mode, task, combos_for(index), **env)
    assert scan_files(sweep.root) == []
    assert scan_files(PROJECT_ROOT, since=started) == []
    print(f"\nsecrets sweep: {len(RUNS)} task runs checked so far")


@pytest.mark.slow
def test_success_and_migration_failures(sweep: Sweep) -> None:
    started = time.time()
    drop_new_files(sweep.root)
    good = {
        "URL": {"DATABASE_URL": sweep.url("app", PASSWORD, "appdb")},
        "key=value": {"DATABASE_URL": sweep.keyvalue("app2", VARIANT, "app2db")},
    }
    for shape, env in good.items():
        for index, task in enumerate(TASKS):
            sweep.run(f"success ({shape})", task, combos_for(index), **env)
        drop_new_files(sweep.root)
        # The success path really connected and provisioned, with the password.
        provisioned = run_inv("provision", cwd=sweep.root, **env)
        assert provisioned.code == 0, provisioned.stdout + provisioned.stderr
    env = good["URL"]
    first = sorted((sweep.root / "migrations").glob("*.up.sql"))[0]
    original = first.read_bytes()
    try:  # checksum mismatch, seen by every task that reads the files
        first.write_bytes(original + b"\n-- edited\n")
        for index, task in enumerate(TASKS):
            sweep.run("checksum mismatch", task, combos_for(index), **env)
        drop_new_files(sweep.root)
    finally:
        first.write_bytes(original)
    bad = sweep.root / "bad_migrations"
    bad.mkdir()
    (bad / "1_ok.up.sql").write_text("CREATE TABLE ok_table (id int);")
    (bad / "2_broken.up.sql").write_text("CREATE TABLE broken (id int;\n")
    for index, task in enumerate([["migrate"], ["provision"], ["status"], ["verify"]]):
        sweep.run("SQL error", task, combos_for(index), MIGRATIONS_DIR="bad_migrations", **env)
    (bad / "2_broken.up.sql").write_text("CREATE TABLE broken (id int);\n")  # no down file
    assert run_inv("migrate", cwd=sweep.root, MIGRATIONS_DIR="bad_migrations", **env).code == 0
    for index in range(2):
        sweep.run("missing down file", ["rollback"], combos_for(index),
                  MIGRATIONS_DIR="bad_migrations", **env)  # fmt: skip
        sweep.run("unknown forget filename", ["forget", "nope.up.sql", "--yes"],
                  combos_for(index), **env)  # fmt: skip
    assert scan_files(sweep.root) == []
    assert scan_files(PROJECT_ROOT, since=started) == []
    print(f"\nsecrets sweep: {len(RUNS)} task runs checked so far")


def test_the_servers_own_log_holds_no_password(sweep: Sweep) -> None:
    """PostgreSQL logs failed logins by user and database, never the password (log_statement
    is off by default). Run after the sweeps above (same module, file order)."""
    log = sweep.server.pgdata / "log"
    text = log.read_text(errors="replace")
    assert "password authentication failed" in text  # the sweep did provoke failed logins
    assert leaks_in(text) == []
