"""Hostile settings end to end: every variable with a wrong type, empty, negative or enormous
value stops `inv` with exit 1 and one error line naming the variable and what it allows,
before any database work; every shape of DATABASE_URL users paste either works or fails with
the exit code the contract gives it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from conftest import fresh_database, run_inv
from psycopg.conninfo import conninfo_to_dict

from provisioning.settings import ALLOWED

BAD_SETTINGS = [
    ("DB_TIMEOUT", "abc"), ("DB_TIMEOUT", ""), ("DB_TIMEOUT", "-1"), ("DB_TIMEOUT", "0"),
    ("DB_TIMEOUT", "99999999999999999999"), ("DB_TIMEOUT", "1e3"), ("DB_TIMEOUT", "0x10"),
    ("DB_TIMEOUT", "١٥٠٠"), ("DB_TIMEOUT", "true"), ("DB_TIMEOUT", "nan"),
    ("DB_MAX_ATTEMPTS", "1e9"), ("DB_MAX_ATTEMPTS", "-1"), ("DB_MAX_ATTEMPTS", ""),
    ("DB_MAX_ATTEMPTS", "0"), ("DB_MAX_ATTEMPTS", "ten"), ("DB_MAX_ATTEMPTS", "2.5"),
    ("DB_BACKOFF_JITTER", "5"), ("DB_BACKOFF_JITTER", "-0.5"), ("DB_BACKOFF_JITTER", ""),
    ("DB_BACKOFF_JITTER", "inf"), ("DB_BACKOFF_JITTER", "30%"),
    ("DB_BACKOFF_BASE_MS", "-1000"), ("DB_BACKOFF_BASE_MS", ""),
    ("DB_BACKOFF_BASE_MS", "99999999999999999999"), ("DB_BACKOFF_MAX_MS", "0"),
    ("DB_BACKOFF_MAX_MS", "1s"), ("DB_LOCK_TIMEOUT", "-5"), ("DB_LOCK_TIMEOUT", "forever"),
    ("DB_LOCK_TIMEOUT", "99999999999999999999"), ("MIGRATION_LOCK_TIMEOUT", "-1"),
    ("MIGRATION_LOCK_TIMEOUT", ""), ("MIGRATION_LOCK_TIMEOUT", "5s"),
    ("LOG_LEVEL", "LOUD"), ("LOG_LEVEL", ""), ("LOG_LEVEL", "trace"), ("LOG_LEVEL", "10"),
    ("LOG_FORMAT", "yaml"), ("LOG_FORMAT", ""), ("APP_ENV", "prod"), ("APP_ENV", ""),
    ("APP_ENV", "dev"), ("SKIP_SEED", "perhaps"), ("SKIP_SEED", ""), ("SKIP_SEED", "2"),
    ("SKIP_SEED", "-1"), ("MIGRATIONS_DIR", ""), ("MIGRATIONS_DIR", "  "), ("SEEDS_DIR", ""),
]  # fmt: skip
# Legitimately accepted (documented in the README): surrounding spaces, `+`, `_` separators
# and a `.0` on whole numbers (pydantic's lax integers), case-insensitive enums, on/off/y/t.
ACCEPTED = [
    ("DB_TIMEOUT", " 1500 ", "db_timeout", 1500), ("DB_TIMEOUT", "1_500", "db_timeout", 1500),
    ("DB_TIMEOUT", "1500.0", "db_timeout", 1500), ("LOG_LEVEL", "DEBUG", "log_level", "debug"),
    ("SKIP_SEED", "on", "skip_seed", True), ("SKIP_SEED", "OFF", "skip_seed", False),
    ("DB_BACKOFF_JITTER", "1e-1", "db_backoff_jitter", 0.1),
]  # fmt: skip


@pytest.fixture(scope="module")
def untouched(server_url: str) -> Iterator[str]:
    """One database shared by the bad-setting cases: none of them may ever change it."""
    with fresh_database(server_url, "test_untouched") as url:
        yield url


def has_tracking_table(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def assert_bad_setting(result: Any, variable: str) -> None:
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    (line,) = result.lines  # one line, and nothing logged before it
    assert line["level"] == "error" and line["exitCode"] == 1 and line["suggestion"]
    assert line["variable"] == variable
    assert line["message"] == f"Invalid {variable}: expected {ALLOWED[variable.lower()]}"


@pytest.mark.parametrize(("variable", "raw"), BAD_SETTINGS)
def test_bad_setting_stops_provision_before_any_database_work(
    untouched: str, variable: str, raw: str
) -> None:
    result = run_inv("provision", DATABASE_URL=untouched, **{variable: raw})
    assert_bad_setting(result, variable)
    assert not has_tracking_table(untouched)


def test_bad_setting_with_every_task(untouched: str) -> None:
    tasks = [["wait"], ["migrate"], ["status"], ["verify"], ["seed"], ["provision"],
             ["reset", "--yes"], ["rollback"], ["forget", "1_a.up.sql", "--yes"],
             ["new", "x"], ["doctor"], ["server.status"]]  # fmt: skip
    for task in tasks:
        result = run_inv(*task, DATABASE_URL=untouched, DB_TIMEOUT="-1", APP_ENV="development")
        assert_bad_setting(result, "DB_TIMEOUT")
    assert not has_tracking_table(untouched)


def test_a_bad_value_in_dotenv_is_the_same_line(tmp_path: Path, untouched: str) -> None:
    (tmp_path / "tasks.py").symlink_to(Path(__file__).resolve().parents[3] / "tasks.py")
    (tmp_path / ".env").write_text("DB_MAX_ATTEMPTS=1e9\n")
    result = run_inv("provision", cwd=tmp_path, DATABASE_URL=untouched)
    assert_bad_setting(result, "DB_MAX_ATTEMPTS")
    assert not has_tracking_table(untouched)


@pytest.mark.parametrize(("variable", "raw", "attribute", "expected"), ACCEPTED)
def test_lenient_values_that_are_accepted(
    tmp_path: Path, variable: str, raw: str, attribute: str, expected: object
) -> None:
    from provisioning.settings import load_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(variable, raw)
        assert getattr(load_settings(tmp_path), attribute) == expected


def test_backoff_max_below_base(untouched: str) -> None:
    result = run_inv(
        "wait", DATABASE_URL=untouched, DB_BACKOFF_BASE_MS="5000", DB_BACKOFF_MAX_MS="10"
    )
    assert_bad_setting(result, "DB_BACKOFF_MAX_MS")


# --- DATABASE_URL in every shape users paste -----------------------------------------------


def shapes(database: str) -> dict[str, str]:
    params = conninfo_to_dict(database)
    db, user = params["dbname"], params.get("user", "postgres")
    host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
    return {
        "url": f"postgresql://{user}@{host}:{port}/{db}",
        "postgres scheme": f"postgres://{user}@{host}:{port}/{db}",
        "key=value": f"host={host} port={port} user={user} dbname={db}",
        "key=value sslmode": f"host={host} port={port} user={user} dbname={db} sslmode=disable",
        "url sslmode": f"postgresql://{user}@{host}:{port}/{db}?sslmode=disable",
        "url sslmode prefer": f"postgresql://{user}@{host}:{port}/{db}?sslmode=prefer",
        "percent-encoded password (trust)": f"postgresql://{user}:{quote('p@ss:w/rd', safe='')}"
        f"@{host}:{port}/{db}",
        "unix socket query": f"postgresql:///{db}?host=/var/run/postgresql&user={user}",
        "unix socket host": f"postgresql://{user}@%2Fvar%2Frun%2Fpostgresql/{db}",
        "trailing newline": f"postgresql://{user}@{host}:{port}/{db}\n",
        "trailing space": f"postgresql://{user}@{host}:{port}/{db} ",
        "leading space key=value": f"  host={host} user={user} dbname={db}\r\n",
        "application_name": f"postgresql://{user}@{host}:{port}/{db}?application_name=x%20y",
        "connect_timeout": f"postgresql://{user}@{host}:{port}/{db}?connect_timeout=5",
        "ipv4 hostaddr": f"host=localhost hostaddr=127.0.0.1 port={port} user={user} dbname={db}",
    }


SHAPE_NAMES = list(shapes("dbname=x").keys())


@pytest.mark.parametrize("shape", SHAPE_NAMES)
def test_database_url_shapes_that_work(database: str, shape: str) -> None:
    if "socket" in shape and not Path("/var/run/postgresql/.s.PGSQL.5432").exists():
        pytest.skip("no local Unix socket here")
    url = shapes(database)[shape]
    result = run_inv("migrate", DATABASE_URL=url)
    assert result.code == 0, result.stdout + result.stderr
    assert has_tracking_table(database)


def test_missing_database_name_means_the_user_name(database: str) -> None:
    params = conninfo_to_dict(database)
    user, host, port = params.get("user", "postgres"), params["host"], params.get("port", "5432")
    result = run_inv("wait", DATABASE_URL=f"postgresql://{user}@{host}:{port}")
    assert result.code == 0, result.stdout
    assert result.find("Checking database readiness")["target"].endswith(f"/{user}")


UNPARSABLE = {
    "unknown parameter": "postgresql://u@127.0.0.1/db?colour=blue",
    "unknown key": "host=127.0.0.1 colour=blue",
    "http scheme": "http://127.0.0.1/db",
    "bad percent": "postgresql://u:p%zz@127.0.0.1/db",
    "unclosed ipv6": "postgresql://u@[::1/db",
    "key without value": "host=127.0.0.1 port",
    "unterminated quote": "host='127.0.0.1",
    "whitespace only": " \n ",
    "words": "my database",
}


@pytest.mark.parametrize("kind", UNPARSABLE)
def test_unparsable_url_is_a_bad_setting(database: str, kind: str) -> None:
    result = run_inv("provision", DATABASE_URL=UNPARSABLE[kind])
    assert_bad_setting(result, "DATABASE_URL")


REFUSED_AT_CONNECT = {  # parsed by libpq, refused when it connects: exit 2, no waiting
    "bad sslmode": "?sslmode=bogus",
    "port out of range": ":99999",
    "port not a number": ":notaport",
    "ssl required, server without": "?sslmode=require",
}


@pytest.mark.parametrize("kind", REFUSED_AT_CONNECT)
def test_values_libpq_refuses_when_connecting_fail_fast_with_exit_2(kind: str) -> None:
    tail = REFUSED_AT_CONNECT[kind]
    url = (
        f"postgresql://postgres@127.0.0.1{tail}/postgres"
        if tail.startswith(":")
        else f"postgresql://postgres@127.0.0.1/postgres{tail}"
    )
    started = time.monotonic()
    result = run_inv("wait", DATABASE_URL=url)  # DB_TIMEOUT is 5 minutes: must not wait
    assert result.code == 2, result.stdout
    assert time.monotonic() - started < 30
    line = result.lines[-1]
    assert line["message"] == "Database readiness check failed" and line["attempt"] == 1
    assert "DATABASE_URL" in line["suggestion"]


def test_ipv6_literal_host(database: str) -> None:
    params = conninfo_to_dict(database)
    url = f"postgresql://{params.get('user', 'postgres')}@[::1]:{params.get('port', '5432')}/x"
    result = run_inv("wait", DATABASE_URL=url, DB_TIMEOUT="1500", DB_BACKOFF_BASE_MS="200")
    # Accepted as a setting; the local server listens on 127.0.0.1 only, so it is unreachable.
    assert result.code == 2, result.stdout
    assert result.find("Checking database readiness")["target"].startswith("postgres@::1:")
    assert '"::1"' in result.lines[-1]["error"]


def test_nonexistent_database(database: str) -> None:
    url = database.replace(conninfo_to_dict(database)["dbname"], "test_no_such_db_x")
    result = run_inv("provision", DATABASE_URL=url)
    assert result.code == 2 and result.lines[-1]["attempt"] == 1
    assert "does not exist" in result.lines[-1]["suggestion"]


DATABASE_URL_CASES = (
    len(SHAPE_NAMES) + 1 + len(UNPARSABLE) + len(REFUSED_AT_CONNECT) + 2
)  # + ipv6, nonexistent database
SETTING_CASES = len(BAD_SETTINGS) + 1 + 1  # + .env, max below base
