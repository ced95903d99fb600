"""`inv wait` against real servers: ready, late, never, wrong password, missing role or database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_throwaway import ThrowawayServer, create_server, destroy_server, free_port

from provisioning.readiness import NOT_READY, READINESS_FAILED, READY

FAST = {"DB_BACKOFF_BASE_MS": "200", "DB_BACKOFF_MAX_MS": "1000"}


@pytest.fixture
def throwaway() -> Iterator[ThrowawayServer]:
    """An initialised scram-sha-256 server on 127.0.0.1, not yet started."""
    server = create_server()
    try:
        yield server
    finally:
        destroy_server(server)


def test_ready_at_once(inv: Any, database: str) -> None:
    result = inv("wait", DATABASE_URL=database)
    assert result.code == 0, result.stdout + result.stderr
    target = result.find("Checking database readiness")["target"]
    assert target.endswith("/" + database.rsplit("dbname=", 1)[1].split()[0])
    ready = result.find(READY)
    assert ready["level"] == "info" and ready["attempts"] == 1
    assert isinstance(ready["durationMs"], int) and ready["durationMs"] >= 0


def test_server_that_comes_up_late(inv: Any, throwaway: ThrowawayServer) -> None:
    starter = threading.Thread(target=throwaway.start_after, args=(3.0,))
    started = time.monotonic()
    starter.start()
    try:
        result = inv("wait", DATABASE_URL=throwaway.url(), DB_TIMEOUT="60000", **FAST)
    finally:
        starter.join()
    assert result.code == 0, result.stdout + result.stderr
    assert time.monotonic() - started >= 3.0
    retries = [line for line in result.lines if line["message"] == NOT_READY]
    assert retries, result.stdout
    for n, line in enumerate(retries, start=1):
        assert line["level"] == "warn" and line["attempt"] == n
        assert 0 < line["delayMs"] <= 1000 * 1.3 + 1
        assert "Connection refused" in line["error"] or "starting up" in line["error"]
    ready = result.find(READY)
    assert ready["attempts"] == len(retries) + 1
    assert ready["durationMs"] >= 2500


def test_server_that_never_comes_times_out_with_exit_2(inv: Any) -> None:
    port = free_port()
    started = time.monotonic()
    result = inv(
        "wait", DATABASE_URL=f"postgresql://app@127.0.0.1:{port}/nexus", DB_TIMEOUT="2500", **FAST
    )
    elapsed = time.monotonic() - started
    assert result.code == 2
    retries = [line for line in result.lines if line["message"] == NOT_READY]
    assert len(retries) >= 2
    assert sum(line["delayMs"] for line in retries) <= 2500  # never slept past the deadline
    assert {"attempt", "delayMs", "error"} <= set(retries[0])
    last = result.lines[-1]
    assert last["message"] == "Postgres readiness timeout after 2500ms"
    assert last["level"] == "error" and last["exitCode"] == 2
    assert "DB_TIMEOUT" in last["suggestion"]
    assert elapsed < 2.5 + 8  # the deadline, plus interpreter start-up and one last connect


def test_timeout_flag_overrides_db_timeout(inv: Any) -> None:
    port = free_port()
    result = inv(
        "wait", "--timeout", "1200",
        DATABASE_URL=f"postgresql://app@127.0.0.1:{port}/nexus", DB_TIMEOUT="300000", **FAST,
    )  # fmt: skip
    assert result.code == 2
    assert result.lines[-1]["message"] == "Postgres readiness timeout after 1200ms"


def test_attempts_exhausted(inv: Any) -> None:
    port = free_port()
    result = inv(
        "wait", DATABASE_URL=f"postgresql://app@127.0.0.1:{port}/nexus",
        DB_MAX_ATTEMPTS="3", DB_BACKOFF_BASE_MS="50", DB_BACKOFF_MAX_MS="50",
    )  # fmt: skip
    assert result.code == 2
    last = result.lines[-1]
    assert last["message"] == READINESS_FAILED and last["exitCode"] == 2
    assert last["attempt"] == 3 and "DB_MAX_ATTEMPTS" in last["suggestion"]
    assert len([line for line in result.lines if line["message"] == NOT_READY]) == 2


def test_wrong_password_fails_at_once(inv: Any, throwaway: ThrowawayServer) -> None:
    """A role with a password on a scram-sha-256 server; the URL carries another password."""
    throwaway.start()
    role = f"app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(throwaway.url(), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal("right-password")
            )
        )
    try:
        started = time.monotonic()
        result = inv("wait", DATABASE_URL=throwaway.url(user=role, password="wrong-password"))
        assert result.code == 2
        assert time.monotonic() - started < 10
        assert not [line for line in result.lines if line["message"] == NOT_READY]
        last = result.lines[-1]
        assert last["message"] == READINESS_FAILED and last["exitCode"] == 2
        assert "password authentication failed" in last["error"]
        assert last["suggestion"].startswith("Password authentication failed")
        assert "wrong-password" not in result.stdout + result.stderr
        ok = inv("wait", DATABASE_URL=throwaway.url(user=role, password="right-password"))
        assert ok.code == 0
    finally:
        with psycopg.connect(throwaway.url(), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP ROLE {}").format(psycopg.sql.Identifier(role)))


def test_missing_database_fails_at_once(inv: Any, server_url: str) -> None:
    missing = f"test_missing_{uuid.uuid4().hex[:12]}"
    url = psycopg.conninfo.make_conninfo(server_url, dbname=missing)
    result = inv("wait", DATABASE_URL=url)
    assert result.code == 2
    last = result.lines[-1]
    assert last["message"] == READINESS_FAILED and last["attempt"] == 1
    assert "database" in last["suggestion"] and "does not exist" in last["suggestion"]


def test_missing_role_fails_at_once(inv: Any, database: str) -> None:
    role = f"nobody_{uuid.uuid4().hex[:8]}"
    result = inv("wait", DATABASE_URL=psycopg.conninfo.make_conninfo(database, user=role))
    assert result.code == 2
    last = result.lines[-1]
    assert last["message"] == READINESS_FAILED and last["attempt"] == 1
    assert last["suggestion"].startswith("The role in DATABASE_URL does not exist")


def test_an_unusable_parameter_fails_at_once_with_exit_2(inv: Any, database: str) -> None:
    result = inv("wait", DATABASE_URL=psycopg.conninfo.make_conninfo(database, port="abc"))
    assert result.code == 2
    last = result.lines[-1]
    assert last["attempt"] == 1 and "libpq" in last["suggestion"]
