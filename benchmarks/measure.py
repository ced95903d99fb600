"""Timing one process (wall clock and peak RSS) and the benchmark databases around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Sample:
    seconds: float
    max_rss_kb: int  # peak resident set of the measured process (getrusage via wait4)
    returncode: int
    output: str  # stdout + stderr, kept only for error reports


class RunFailed(RuntimeError):
    pass


def _gnu_time() -> str | None:
    """GNU time, if installed (`apt-get install time`): it reports the child's own peak RSS."""
    path = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if path is None:
        return None
    probe = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return path if "GNU" in probe.stdout + probe.stderr else None


GNU_TIME = _gnu_time()


def run_timed(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Sample:
    """Run one command to completion; wall time from spawn to reap.

    Output goes to a temp file, so a chatty tool pays for writing it but not for our reading
    it. Peak RSS comes from GNU time wrapped around the command: Linux keeps `ru_maxrss`
    across `execve`, so a child forked from this (large) Python process would report our
    own RSS. GNU time is a small C program, so its children start near zero. The wrapper
    costs every tool the same ~1 ms. Without GNU time, `max_rss_kb` is -1.
    """
    with tempfile.TemporaryFile() as sink, tempfile.NamedTemporaryFile("r") as rss:
        argv = [GNU_TIME, "-f", "%M", "-o", rss.name, *command] if GNU_TIME else command
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            env=env, cwd=cwd,
        )  # fmt: skip
        _, status, _usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        sink.seek(0)
        output = sink.read().decode("utf-8", "replace")
        lines = rss.read().split()
    max_rss_kb = int(lines[-1]) if GNU_TIME and lines and lines[-1].isdigit() else -1
    return Sample(seconds, max_rss_kb, proc.returncode, output)


def check(sample: Sample, what: str) -> Sample:
    if sample.returncode != 0:
        tail = "\n".join(sample.output.splitlines()[-15:])
        raise RunFailed(f"{what} exited {sample.returncode}:\n{tail}")
    return sample


class Server:
    """The PostgreSQL server the benchmark uses; creates and drops `bench_<uuid>` databases."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._admin = psycopg.connect(f"{self.url}/postgres", autocommit=True)

    def version(self) -> str:
        row = self._admin.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def database_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def create_database(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        self._admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        self._admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def drop_leftovers(self) -> int:
        """Drop `bench_*` databases a killed earlier run left behind."""
        rows = self._admin.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^bench_[0-9a-f]{12}$'"
        ).fetchall()
        for (name,) in rows:
            self.drop_database(name)
        return len(rows)

    def counts(self, name: str, tracking_table: str | None) -> tuple[int, int]:
        """(user tables in public, rows in the tool's tracking table) of one database."""
        with psycopg.connect(self.database_url(name), autocommit=True) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
                " AND c.relname NOT IN ('schema_migrations', '_yoyo_migration', '_yoyo_log',"
                " '_yoyo_version', 'yoyo_lock')"
            ).fetchone()
            tracked = (0,)
            if tracking_table is not None:
                tracked = conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(tracking_table))
                ).fetchone() or (0,)
        return int(tables[0] if tables else 0), int(tracked[0])

    def close(self) -> None:
        self._admin.close()
