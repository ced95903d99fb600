"""Logs: the exact JSON line shape, level filtering, configured once, pretty and auto modes."""

from __future__ import annotations

import json
import logging
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning import logs
from provisioning.redact import clear_secrets
from provisioning.settings import Settings

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
INV = str(Path(sys.executable).parent / "inv")
TASKS = Path(__file__).resolve().parents[2] / "tasks.py"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    clear_secrets()
    yield
    logger = logging.getLogger(logs.ROOT_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_line_shape(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(settings(log_format="json"))
    log = logging.getLogger("provisioning.sample")
    log.warning(
        "Postgres not ready, retrying with backoff",
        extra={"fields": {"attempt": 2, "delayMs": 2000, "error": "Connection refused"}},
    )
    out = capsys.readouterr()
    assert out.err == ""
    raw = out.out.strip()
    # Compact, one object a line, keys in the contract's order: timestamp, level, message, fields.
    assert raw.startswith('{"timestamp":"') and '"level":"warn"' in raw
    (line,) = json_lines(out.out)
    assert list(line)[:3] == ["timestamp", "level", "message"]
    assert TIMESTAMP.match(str(line["timestamp"]))
    assert line == {
        "timestamp": line["timestamp"],
        "level": "warn",
        "message": "Postgres not ready, retrying with backoff",
        "attempt": 2,
        "delayMs": 2000,
        "error": "Connection refused",
    }


def test_timestamp_is_utc_with_milliseconds() -> None:
    assert logs.iso_timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert logs.iso_timestamp(1761819330.1239) == "2025-10-30T10:15:30.123Z"


def test_fields_cannot_overwrite_the_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(settings(log_format="json"))
    logging.getLogger("provisioning.x").info(
        "real", extra={"fields": {"message": "fake", "level": "error"}}
    )
    (line,) = json_lines(capsys.readouterr().out)
    assert (line["message"], line["level"]) == ("real", "info")


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("debug", ["debug", "info", "warn", "error"]),
        ("info", ["info", "warn", "error"]),
        ("warn", ["warn", "error"]),
        ("error", ["error"]),
    ],
)
def test_level_filtering(capsys: pytest.CaptureFixture[str], level: str, shown: list[str]) -> None:
    logs.configure(settings(log_format="json", log_level=level))
    log = logging.getLogger("provisioning.sample")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")  # spelled `error` too: the contract has four levels
    got = [line["level"] for line in json_lines(capsys.readouterr().out)]
    assert got == [*shown, "error"]


def test_configure_twice_replaces_rather_than_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure_fallback()
    logs.configure(settings(log_format="json"))
    logs.configure(settings(log_format="json"))
    logging.getLogger("provisioning.sample").info("once")
    assert len(json_lines(capsys.readouterr().out)) == 1
    assert len(logging.getLogger(logs.ROOT_LOGGER).handlers) == 1
    assert logging.getLogger(logs.ROOT_LOGGER).propagate is False


def test_fallback_is_json_at_info_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure_fallback()
    logging.getLogger("provisioning.sample").debug("hidden")
    logging.getLogger("provisioning.sample").info("shown")
    assert [line["message"] for line in json_lines(capsys.readouterr().out)] == ["shown"]
    assert not logs.is_pretty()


def test_pretty_mode_renders_with_rich_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(settings(log_format="pretty"))
    assert logs.is_pretty()
    logging.getLogger("provisioning.sample").info(
        "Postgres is ready", extra={"fields": {"attempts": 3}}
    )
    out = capsys.readouterr()
    assert out.out == ""  # JSON never goes through rich, and rich never goes to stdout
    assert "Postgres is ready" in out.err and "attempts=3" in out.err
    assert not out.err.lstrip().startswith("{")


def test_auto_is_json_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(settings(log_format="auto"))
    assert not logs.is_pretty()


def _run_on_a_terminal(env: dict[str, str], cwd: Path) -> str:
    """Run `inv server.status` with stdout and stderr on a pseudo-terminal; return what it shows."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [INV, "server.status"], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=follower, stderr=follower,
    )  # fmt: skip
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(("log_format", "pretty"), [("auto", True), ("json", False)])
def test_auto_is_pretty_on_a_terminal(log_format: str, pretty: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="nexus-logs-"))
    (root / "tasks.py").symlink_to(TASKS)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "LOG_LEVEL"}}
    env.update(LOG_FORMAT=log_format, TERM="xterm", COLUMNS="200")
    try:
        shown = _run_on_a_terminal(env, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert "Embedded PostgreSQL is not running" in shown
    assert ('{"timestamp":' in shown) is not pretty
