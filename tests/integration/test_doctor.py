"""`inv doctor`, reset and least-privilege provisioning against real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from conftest import run_inv, url_for
from psycopg import sql

from provisioning.db import MIGRATION_LOCK_KEY
from provisioning.doctor import DOCTOR_CHECK, DOCTOR_HEALTHY, DOCTOR_PROBLEMS
from provisioning.pipeline import PROVISION_COMPLETED
from provisioning.reset import DATABASE_RECREATED, RESET_REFUSED_PRODUCTION, SCHEMAS_DROPPED


def checks(result: Any) -> dict[str, dict[str, Any]]:
    return {line["check"]: line for line in result.lines if line["message"] == DOCTOR_CHECK}


def scalar(url: str, query: str) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()  # test-owned queries
        return row[0] if row else None


@pytest.fixture
def provisioned(database: str) -> str:
    result = run_inv("provision", DATABASE_URL=database)
    assert result.code == 0, result.stdout
    return database


@pytest.fixture
def limited_role(server_url: str) -> Iterator[tuple[str, Callable[[str], str]]]:
    """A login role without SUPERUSER, CREATEROLE or CREATEDB, and `make_db(owner)` → its URL.

    Databases made here are dropped before the role, and the role afterwards.
    """
    role = f"lp_{uuid.uuid4().hex[:10]}"
    made: list[str] = []
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB").format(
                sql.Identifier(role)
            )
        )

    def make_db(owner: str) -> str:
        name = f"lpdb_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )
        made.append(name)
        return name

    try:
        yield role, make_db
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for name in made:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_doctor_healthy_database(provisioned: str) -> None:
    result = run_inv("doctor", DATABASE_URL=provisioned)
    assert result.code == 0, result.stdout
    found = checks(result)
    for name in ("python", "server", "login", "privileges", "tracking table", "checksums",
                 "missing files", "pending", "migration lock"):  # fmt: skip
        assert found[name]["ok"] is True, found[name]
        assert found[name]["level"] == "info"
    assert "answered in" in found["server"]["detail"]
    # The test server's role is a superuser: a warning, and warnings alone exit 0.
    assert found["least privilege"]["level"] == "warn"
    assert "SUPERUSER" in found["least privilege"]["detail"]
    assert result.lines[-1]["message"] == DOCTOR_HEALTHY
    assert result.lines[-1]["warnings"] == 1


def test_doctor_changes_nothing_on_a_fresh_database(database: str) -> None:
    result = run_inv("doctor", DATABASE_URL=database)
    assert result.code == 0, result.stdout
    found = checks(result)
    assert found["tracking table"]["level"] == "warn"
    assert found["pending"]["level"] == "warn" and "5 migration(s)" in found["pending"]["detail"]
    assert scalar(database, "SELECT to_regclass('schema_migrations')") is None


def test_doctor_role_without_create(
    server_url: str, limited_role: tuple[str, Callable[[str], str]]
) -> None:
    role, make_db = limited_role
    name = make_db("postgres")  # owned by someone else: the role has no CREATE on public
    result = run_inv("doctor", DATABASE_URL=url_for(server_url, name, user=role))
    assert result.code == 1, result.stdout
    found = checks(result)
    assert found["privileges"]["level"] == "error"
    assert found["privileges"]["exitCode"] == 1
    assert "GRANT CREATE ON SCHEMA public" in found["privileges"]["fix"]
    assert found["least privilege"]["level"] == "info"
    assert result.lines[-1]["message"] == DOCTOR_PROBLEMS
    assert result.lines[-1]["exitCode"] == 1


def test_doctor_checksum_drift(provisioned: str) -> None:
    with psycopg.connect(provisioned) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE id = 2")
    result = run_inv("doctor", DATABASE_URL=provisioned)
    assert result.code == 3, result.stdout
    found = checks(result)
    assert found["checksums"]["level"] == "error"
    assert "002_create_users.up.sql" in found["checksums"]["detail"]
    assert result.lines[-1]["exitCode"] == 3


def test_doctor_row_without_file(provisioned: str) -> None:
    with psycopg.connect(provisioned) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (filename, checksum) VALUES ('099_gone.up.sql', 'x')"
        )
    result = run_inv("doctor", DATABASE_URL=provisioned)
    assert result.code == 3, result.stdout
    assert "099_gone.up.sql" in checks(result)["missing files"]["detail"]
    assert "inv forget" in checks(result)["missing files"]["fix"]


def test_doctor_held_lock(provisioned: str) -> None:
    with psycopg.connect(provisioned, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        pid = holder.info.backend_pid
        recent = run_inv("doctor", DATABASE_URL=provisioned)
        stuck = run_inv("doctor", DATABASE_URL=provisioned, DB_LOCK_TIMEOUT="1")
    assert recent.code == 0, recent.stdout
    lock = checks(recent)["migration lock"]
    assert lock["level"] == "warn" and f"pid {pid}" in lock["detail"]
    assert f"pg_terminate_backend({pid})" in lock["fix"]
    assert stuck.code == 3, stuck.stdout
    assert checks(stuck)["migration lock"]["level"] == "error"


def test_doctor_unreachable_server() -> None:
    result = run_inv("doctor", DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    assert result.code == 2, result.stdout
    assert checks(result)["server"]["level"] == "error"
    assert result.lines[-1]["exitCode"] == 2


def test_least_privilege_role_provisions_and_resets(
    server_url: str, limited_role: tuple[str, Callable[[str], str]]
) -> None:
    role, make_db = limited_role
    url = url_for(server_url, make_db(role), user=role)
    first = run_inv("provision", DATABASE_URL=url)
    assert first.code == 0, first.stdout
    assert first.lines[-1]["migrationsApplied"] == 5 and first.lines[-1]["seeded"] is True
    doctor = run_inv("doctor", DATABASE_URL=url)
    assert doctor.code == 0, doctor.stdout
    assert checks(doctor)["least privilege"]["ok"] is True
    assert doctor.lines[-1]["warnings"] == 0

    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO organizations (slug, name) VALUES ('extra', 'Extra')")
    reset = run_inv("reset", "--yes", DATABASE_URL=url)  # no CREATEDB: drops its schemas
    assert reset.code == 0, reset.stdout
    assert "public" in reset.find(SCHEMAS_DROPPED)["schemas"]
    assert reset.lines[-1]["message"] == PROVISION_COMPLETED
    assert scalar(url, "SELECT count(*) FROM organizations") == 3


def test_reset_refused_in_production(provisioned: str) -> None:
    result = run_inv("reset", "--yes", DATABASE_URL=provisioned, APP_ENV="production")
    assert result.code == 1, result.stdout
    assert result.lines[-1]["message"] == RESET_REFUSED_PRODUCTION
    assert scalar(provisioned, "SELECT count(*) FROM organizations") == 3


def test_reset_refused_off_a_terminal_without_yes(provisioned: str) -> None:
    result = run_inv("reset", DATABASE_URL=provisioned)
    assert result.code == 1, result.stdout
    assert "--yes" in result.lines[-1]["message"]
    assert scalar(provisioned, "SELECT count(*) FROM schema_migrations") == 5


def test_full_reset_leaves_a_freshly_provisioned_database(provisioned: str) -> None:
    with psycopg.connect(provisioned) as conn:
        conn.execute("INSERT INTO organizations (slug, name) VALUES ('extra', 'Extra')")
        conn.execute("CREATE TABLE scratch (id int)")
    result = run_inv("reset", "--yes", DATABASE_URL=provisioned)
    assert result.code == 0, result.stdout
    assert result.find(DATABASE_RECREATED)
    assert result.lines[-1]["message"] == PROVISION_COMPLETED
    assert result.lines[-1]["migrationsApplied"] == 5
    assert scalar(provisioned, "SELECT count(*) FROM organizations") == 3
    assert scalar(provisioned, "SELECT to_regclass('scratch')") is None


def test_reset_no_provision_stops_after_the_drop(provisioned: str) -> None:
    result = run_inv("reset", "--yes", "--no-provision", DATABASE_URL=provisioned)
    assert result.code == 0, result.stdout
    assert PROVISION_COMPLETED not in result.messages()
    assert scalar(provisioned, "SELECT to_regclass('schema_migrations')") is None


def test_reset_as_owner_with_createdb_recreates_the_database(
    server_url: str, limited_role: tuple[str, Callable[[str], str]]
) -> None:
    role, make_db = limited_role
    name = make_db(role)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(role)))
    url = url_for(server_url, name, user=role)
    assert run_inv("provision", DATABASE_URL=url).code == 0
    result = run_inv("reset", "--yes", DATABASE_URL=url)
    assert result.code == 0, result.stdout
    assert result.find(DATABASE_RECREATED)["database"] == name
    assert scalar(url, "SELECT pg_get_userbyid(datdba) FROM pg_database "
                       "WHERE datname = current_database()") == role  # fmt: skip
    assert scalar(url, "SELECT count(*) FROM tasks") == 10
