"""Least privilege: the whole cycle as a role with no SUPERUSER, CREATEROLE or CREATEDB that
owns only its own database; doctor calls it healthy, and warns about a superuser.

(Provision + reset as such a role, and doctor on a role without CREATE, are in
tests/integration/test_doctor.py; the embedded server's listeners in test_embedded.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import run_inv, url_for
from psycopg import sql

from provisioning.doctor import DOCTOR_CHECK, DOCTOR_HEALTHY


@pytest.fixture
def owner_url(server_url: str) -> Iterator[str]:
    """A fresh NOSUPERUSER NOCREATEROLE NOCREATEDB role owning one fresh database."""
    role, name = f"lp_{uuid.uuid4().hex[:10]}", f"lpdb_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB").format(
                sql.Identifier(role)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    try:
        yield url_for(server_url, name, user=role)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def findings(result: Any) -> dict[str, dict[str, Any]]:
    return {line["check"]: line for line in result.lines if line["message"] == DOCTOR_CHECK}


def scalar(url: str, query: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    return row[0] if row else None


def test_the_whole_cycle_as_a_least_privilege_owner(owner_url: str) -> None:
    powers = scalar(
        owner_url,
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
        "WHERE rolname = current_user",
    )
    assert powers is False
    for task in (["provision"], ["status"], ["verify"], ["rollback"], ["status"]):
        result = run_inv(*task, DATABASE_URL=owner_url)
        assert result.code == 0, f"{task}: {result.stdout}{result.stderr}"
    assert scalar(owner_url, "SELECT count(*) FROM schema_migrations") == 4
    # verify after a rollback: one file pending is drift, exit 3 (contract), not a privilege error
    verify = run_inv("verify", DATABASE_URL=owner_url)
    assert verify.code == 3
    again = run_inv("provision", DATABASE_URL=owner_url)
    assert again.code == 0 and again.lines[-1]["migrationsApplied"] == 1
    assert run_inv("verify", DATABASE_URL=owner_url).code == 0
    rolled = run_inv("rollback", "--steps", "5", DATABASE_URL=owner_url)
    assert rolled.code == 0, rolled.stdout
    assert scalar(owner_url, "SELECT count(*) FROM schema_migrations") == 0

    assert run_inv("provision", DATABASE_URL=owner_url).code == 0
    doctor = run_inv("doctor", DATABASE_URL=owner_url)
    assert doctor.code == 0, doctor.stdout
    found = findings(doctor)
    assert found["least privilege"]["level"] == "info" and found["least privilege"]["ok"]
    assert found["privileges"]["ok"] is True
    assert not [f for f in found.values() if f["level"] != "info"], found
    assert doctor.lines[-1]["message"] == DOCTOR_HEALTHY and doctor.lines[-1]["warnings"] == 0


def test_doctor_warns_about_a_superuser(database: str) -> None:
    assert scalar(database, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    assert run_inv("provision", DATABASE_URL=database).code == 0
    doctor = run_inv("doctor", DATABASE_URL=database)
    assert doctor.code == 0, doctor.stdout
    finding = findings(doctor)["least privilege"]
    assert finding["level"] == "warn" and "SUPERUSER" in finding["detail"]
    assert doctor.lines[-1]["warnings"] == 1
