"""The embedded server in a temporary project root: start, reuse, stop, concurrent first starts.

Each project root is a temporary folder holding only a symlink `tasks.py` -> this project's
tasks.py; tasks.py takes the root from its own unresolved path, so `.pgdata/` lands there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from conftest import INV, PROJECT_ROOT, inv_env, parse_lines

from provisioning import embedded


def make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="nexus-embedded-"))
    root.chmod(0o755)  # the server runs as an unprivileged user and must reach .pgdata/
    (root / "tasks.py").symlink_to(PROJECT_ROOT / "tasks.py")
    return root


def teardown_root(root: Path) -> None:
    try:
        embedded.stop(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def root() -> Iterator[Path]:
    path = make_root()
    yield path
    teardown_root(path)


def non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
            address = str(sock.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_start_reuse_status_and_stop(inv: Any, root: Path) -> None:
    status = inv("server.status", cwd=root, DATABASE_URL=None)
    assert status.code == 0 and status.find("Embedded PostgreSQL is not running")

    started = inv("server.start", cwd=root, DATABASE_URL=None)
    assert started.code == 0, started.stdout + started.stderr
    pid = started.find("Embedded PostgreSQL started")["pid"]
    assert (root / ".pgdata" / "PG_VERSION").exists()  # in the temporary root, via the symlink
    assert not (root / ".pgdata").is_symlink()

    again = inv("server.start", cwd=root, DATABASE_URL=None)
    assert again.find("Embedded PostgreSQL already running")["pid"] == pid

    waited = inv("wait", cwd=root, DATABASE_URL=None)
    assert waited.code == 0
    assert waited.find("Checking database readiness")["target"] == "embedded"
    assert "Starting the embedded PostgreSQL server" not in waited.messages()  # reused
    assert waited.find("Postgres is ready")["attempts"] == 1

    running = inv("server.status", cwd=root, DATABASE_URL=None)
    assert running.find("Embedded PostgreSQL is running")["pid"] == pid

    stopped = inv("server.stop", cwd=root, DATABASE_URL=None)
    assert stopped.code == 0 and stopped.find("Embedded PostgreSQL stopped")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert inv("server.status", cwd=root, DATABASE_URL=None).find(
        "Embedded PostgreSQL is not running"
    )
    assert inv("server.stop", cwd=root, DATABASE_URL=None).find(
        "Embedded PostgreSQL was not running"
    )

    restarted = inv("server.start", cwd=root, DATABASE_URL=None)
    assert restarted.code == 0 and restarted.find("Embedded PostgreSQL started")


def test_the_first_task_that_needs_a_database_starts_it(inv: Any, root: Path) -> None:
    result = inv("wait", cwd=root, DATABASE_URL=None)
    assert result.code == 0, result.stdout + result.stderr
    assert result.find("Starting the embedded PostgreSQL server")
    server = embedded.running_server(root)
    assert server is not None
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("nexus",)


def test_it_listens_on_no_tcp_address(root: Path) -> None:
    server = embedded.start(root)
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert listen is not None and listen[0] in ("", "127.0.0.1", "localhost")
    listening = [
        c for c in psutil.Process(server.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]  # fmt: skip
    assert all(c.laddr.ip in ("127.0.0.1", "::1") for c in listening), listening
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    try:
        with psycopg.connect(
            host=address, port=server.port, user="postgres", dbname="nexus", connect_timeout=3
        ) as conn:  # something answered: it must not be the embedded server
            row = conn.execute("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
            assert row.fetchone() != (str(embedded.pgdata(root)),)
    except psycopg.OperationalError:
        pass  # refused: nothing of ours listens there


def test_concurrent_first_starts_both_succeed(root: Path) -> None:
    procs = [
        subprocess.Popen(
            [INV, task],
            cwd=root,
            env=inv_env(DATABASE_URL=None),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for task in ("wait", "server.start")
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in out + err
    server = embedded.running_server(root)
    assert server is not None
    pids = {line.get("pid") for out, _ in outputs for line in parse_lines(out) if "pid" in line}
    assert pids <= {server.pid}
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        names = conn.execute("SELECT datname FROM pg_database WHERE datname = 'nexus'").fetchall()
        assert names == [("nexus",)]
    # The data directory is sound: a clean stop and a restart work.
    assert embedded.stop(root)
    assert embedded.start(root).pid > 0


def test_server_tasks_refuse_when_database_url_is_set(inv: Any, root: Path, database: str) -> None:
    result = inv("server.start", cwd=root, DATABASE_URL=database)
    assert result.code == 1
    line = result.lines[-1]
    assert line["message"] == "DATABASE_URL is set: the embedded server is not in use"
    assert line["exitCode"] == 1 and line["suggestion"]
    assert not (root / ".pgdata").exists()
