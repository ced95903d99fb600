"""No output of any task holds the password or the connection string, on every failure path.

Also the settings plumbing end to end: `.env` in the project root, the environment winning
over it, unknown variables ignored.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from conftest import PROJECT_ROOT, InvResult
from pg_throwaway import ThrowawayServer, create_server, destroy_server, free_port

from provisioning.redact import REDACTED

PASSWORD = "p@ss:w/rd%\"\\'"
ENCODED = quote(PASSWORD, safe="")
KEYVALUE_QUOTED = PASSWORD.replace("\\", "\\\\").replace("'", "\\'")


def leaks(result: InvResult, *secrets: str) -> list[str]:
    """Every spelling of the secrets found in stdout or stderr (also across rich's line wraps)."""
    text = result.stdout + result.stderr
    flat = "".join(text.split())
    found = []
    for secret in (PASSWORD, *secrets):
        for form in {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}:
            if form in text or "".join(form.split()) in flat:
                found.append(form)
    return found


@pytest.fixture(scope="module")
def scram() -> Iterator[ThrowawayServer]:
    server = create_server()
    server.start()
    try:
        yield server
    finally:
        destroy_server(server)


@pytest.fixture(params=["info", "debug"])
def level(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_wrong_password_url(inv: Any, scram: ThrowawayServer, level: str) -> None:
    url = f"postgresql://postgres:{ENCODED}@127.0.0.1:{scram.port}/postgres?sslmode=disable"
    result = inv("wait", DATABASE_URL=url, LOG_LEVEL=level)
    assert result.code == 2
    assert "password authentication failed" in result.lines[-1]["error"]
    assert not leaks(result, url)


def test_wrong_password_keyvalue(inv: Any, scram: ThrowawayServer, level: str) -> None:
    conninfo = (
        f"host=127.0.0.1 port={scram.port} user=postgres dbname=postgres "
        f"password='{KEYVALUE_QUOTED}'"
    )
    result = inv("wait", DATABASE_URL=conninfo, LOG_LEVEL=level)
    assert result.code == 2
    assert not leaks(result, conninfo, KEYVALUE_QUOTED)


def test_pretty_output_on_a_failure(inv: Any, scram: ThrowawayServer) -> None:
    url = f"postgresql://postgres:{ENCODED}@127.0.0.1:{scram.port}/postgres"
    result = inv("wait", DATABASE_URL=url, LOG_FORMAT="pretty", LOG_LEVEL="debug")
    assert result.code == 2
    assert "Database readiness check failed" in result.stderr
    assert not leaks(result, url)


def test_unreachable_host(inv: Any, level: str) -> None:
    url = f"postgresql://app:{ENCODED}@127.0.0.1:{free_port()}/nexus"
    result = inv("wait", DATABASE_URL=url, DB_TIMEOUT="1500", LOG_LEVEL=level)
    assert result.code == 2
    assert result.find("Postgres not ready, retrying with backoff")
    assert result.lines[-1]["message"] == "Postgres readiness timeout after 1500ms"
    assert not leaks(result, url)


def test_host_that_does_not_resolve(inv: Any) -> None:
    url = f"postgresql://app:{ENCODED}@no-such-host.invalid:5432/nexus"
    result = inv("wait", DATABASE_URL=url, DB_TIMEOUT="1500", LOG_LEVEL="debug")
    assert result.code == 2
    assert not leaks(result, url)


BAD_URLS = [
    f"postgresql://app:{ENCODED}@[::1/nexus",
    f"postgresql://app:{ENCODED}@db/nexus?colour={ENCODED}",
    f"postgresql://app:{PASSWORD}@db/nexus",  # unencoded: '%"' is a bad percent token
    f"host=db password='{KEYVALUE_QUOTED}' port",
    f"host=db password='{KEYVALUE_QUOTED}",  # unterminated quote
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_unparsable_url_exits_1_without_echoing_it(inv: Any, url: str, level: str) -> None:
    result = inv("wait", DATABASE_URL=url, LOG_LEVEL=level)
    assert result.code == 1
    (line,) = result.lines
    assert line["variable"] == "DATABASE_URL" and line["exitCode"] == 1 and line["suggestion"]
    assert not leaks(result, url)


def test_missing_database_with_a_password(inv: Any, server_url: str, level: str) -> None:
    url = psycopg.conninfo.make_conninfo(
        server_url, password=PASSWORD, dbname=f"test_missing_{uuid.uuid4().hex[:8]}"
    )
    result = inv("wait", DATABASE_URL=url, LOG_LEVEL=level)
    assert result.code == 2
    assert not leaks(result, url)


def test_success_at_debug_shows_the_target_but_not_the_password(
    inv: Any, database: str, scram: ThrowawayServer
) -> None:
    url = (
        f"postgresql://postgres:{quote(scram_password(), safe='')}@127.0.0.1:{scram.port}/postgres"
    )
    result = inv("wait", DATABASE_URL=url, LOG_LEVEL="debug")
    assert result.code == 0, result.stdout
    assert result.find("Checking database readiness")["target"] == (
        f"postgres@127.0.0.1:{scram.port}/postgres"
    )
    assert not leaks(result, url, scram_password())


def scram_password() -> str:
    from pg_throwaway import SUPERUSER_PASSWORD

    return SUPERUSER_PASSWORD


def test_a_bad_setting_elsewhere_does_not_print_the_url(inv: Any, scram: ThrowawayServer) -> None:
    url = f"postgresql://postgres:{ENCODED}@127.0.0.1:{scram.port}/postgres"
    result = inv("wait", DATABASE_URL=url, DB_TIMEOUT="-1", LOG_LEVEL="debug")
    assert result.code == 1
    assert result.lines[-1]["variable"] == "DB_TIMEOUT"
    assert not leaks(result, url)


# --- .env in a temporary project root ------------------------------------------------------


@pytest.fixture
def project() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="nexus-dotenv-"))
    (root / "tasks.py").symlink_to(PROJECT_ROOT / "tasks.py")
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_dotenv_is_read_and_unknown_variables_ignored(
    inv: Any, project: Path, database: str
) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(database)["dbname"]
    (project / ".env").write_text(
        f"DATABASE_URL='{database}'\nNODE_ENV=production\nENCORE_SECRET=whatever\nDB_TIMEOUT=5000\n"
    )
    result = inv("wait", cwd=project, DATABASE_URL=None)
    assert result.code == 0, result.stdout + result.stderr
    assert result.find("Checking database readiness")["target"].endswith(f"/{dbname}")


def test_the_environment_wins_over_dotenv(inv: Any, project: Path, database: str) -> None:
    unreachable = f"postgresql://app:{ENCODED}@127.0.0.1:{free_port()}/nexus"
    (project / ".env").write_text(
        f"DATABASE_URL={unreachable}\nLOG_LEVEL=loud\nDB_TIMEOUT=1000\nSOMETHING_ELSE=1\n"
    )
    result = inv("wait", cwd=project, DATABASE_URL=database, LOG_LEVEL="info")
    assert result.code == 0, result.stdout + result.stderr
    assert not leaks(result, unreachable)
    # Without the environment's values, the .env ones apply (and the bad level is reported).
    bad = inv("wait", cwd=project, DATABASE_URL=None, LOG_LEVEL=None)
    assert bad.code == 1 and bad.lines[-1]["variable"] == "LOG_LEVEL"
    assert not leaks(bad, unreachable)


def test_dotenv_secret_on_a_failure_path(inv: Any, project: Path) -> None:
    url = f"postgresql://app:{ENCODED}@127.0.0.1:{free_port()}/nexus"
    (project / ".env").write_text(f"DATABASE_URL={url}\nDB_TIMEOUT=1200\nLOG_LEVEL=debug\n")
    result = inv("wait", cwd=project, DATABASE_URL=None, LOG_LEVEL=None)
    assert result.code == 2
    assert REDACTED in result.stdout or "127.0.0.1" in result.stdout
    assert not leaks(result, url)
