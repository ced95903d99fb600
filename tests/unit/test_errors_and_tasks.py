"""Exit codes: each domain error carries its code and `tasks._run` turns it into the process's."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import signal
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke.exceptions import Exit

from provisioning import errors, logs
from provisioning.errors import ExitCode, ProvisioningError
from provisioning.redact import REDACTED, clear_secrets

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")
SECRET = "s3cr:t@pw%\"'"
SECRET_CONNINFO = "host=db user=app password='" + SECRET.replace("'", "\\'") + "'"
PROJECT_VARS = (
    "DATABASE_URL", "DB_TIMEOUT", "SKIP_SEED", "LOG_LEVEL", "LOG_FORMAT", "APP_ENV",
    "MIGRATIONS_DIR", "SEEDS_DIR", "DB_BACKOFF_BASE_MS", "DB_BACKOFF_MAX_MS",
    "DB_BACKOFF_JITTER", "DB_MAX_ATTEMPTS", "DB_LOCK_TIMEOUT", "MIGRATION_LOCK_TIMEOUT",
)  # fmt: skip


def load_tasks() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nexus_tasks_under_test", PROJECT_ROOT / "tasks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    for name in PROJECT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOG_FORMAT", "json")
    # A service module of our own, so _run can call something that fails on purpose.
    monkeypatch.setitem(sys.modules, "provisioning.fake_service", types.ModuleType("fake"))
    module = load_tasks()
    monkeypatch.setattr(module, "PROJECT_ROOT", tmp_path)
    previous = signal.getsignal(signal.SIGTERM)
    clear_secrets()
    yield module
    signal.signal(signal.SIGTERM, previous)
    logger = logging.getLogger(logs.ROOT_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    clear_secrets()


def run_service(
    tasks: types.ModuleType, service: Callable[..., Any], overrides: dict[str, Any] | None = None
) -> int:
    sys.modules["provisioning.fake_service"].service = service  # type: ignore[attr-defined]
    try:
        tasks._run("fake_service:service", overrides)
    except Exit as exit_:
        return int(exit_.code)
    return 0


def lines_of(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr()
    return [json.loads(line) for line in out.out.splitlines() if line.strip()]


def test_exit_codes_are_the_contract_s() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 127, 130, 143]
    expected = {
        errors.SettingsError: 1, errors.RefusedError: 1, errors.ProvisioningError: 1,
        errors.ReadinessError: 2, errors.MigrationError: 3, errors.BadMigrationFileError: 3,
        errors.ChecksumMismatchError: 3, errors.LockTimeoutError: 3, errors.MigrationSqlError: 3,
        errors.DependencyError: 127, errors.InterruptedRunError: 130,
        errors.TerminatedRunError: 143,
    }  # fmt: skip
    for cls, code in expected.items():
        assert cls.exit_code == code, cls
        assert cls("x").suggestion, cls


def test_suggestion_and_fields() -> None:
    err = errors.MigrationSqlError("Migration failed", filename="001_a.up.sql", suggestion="Fix it")
    assert (err.message, err.suggestion, err.fields) == (
        "Migration failed", "Fix it", {"filename": "001_a.up.sql"}
    )  # fmt: skip
    assert errors.ReadinessError("x").suggestion == errors.ReadinessError.default_suggestion


ERRORS = [
    errors.SettingsError, errors.RefusedError, errors.ReadinessError, errors.MigrationSqlError,
    errors.ChecksumMismatchError, errors.LockTimeoutError, errors.DependencyError,
]  # fmt: skip


@pytest.mark.parametrize("cls", ERRORS)
def test_run_maps_each_error_to_its_exit_code_and_one_line(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str], cls: type[ProvisioningError]
) -> None:
    def service(settings: object) -> None:
        raise cls("Something went wrong", filename="001_a.up.sql")

    assert run_service(tasks, service) == int(cls.exit_code)
    (line,) = lines_of(capsys)
    assert line["level"] == "error" and line["message"] == "Something went wrong"
    assert line["exitCode"] == int(cls.exit_code)
    assert line["suggestion"] == cls.default_suggestion
    assert line["filename"] == "001_a.up.sql"


@pytest.mark.parametrize("code", [0, 2, 3])
def test_a_returned_int_is_the_exit_code(tasks: types.ModuleType, code: int) -> None:
    assert run_service(tasks, lambda settings: code) == code


def test_a_returned_object_is_ignored(tasks: types.ModuleType) -> None:
    assert run_service(tasks, lambda settings: ["rows"]) == 0


def test_bad_setting_line_carries_exit_code_and_suggestion(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[object] = []
    monkeypatch.setenv("DB_TIMEOUT", "abc")
    assert run_service(tasks, called.append) == 1
    assert called == []  # stopped before the service (and any database work)
    (line,) = lines_of(capsys)
    assert line["message"].startswith("Invalid DB_TIMEOUT: expected ")
    assert line["variable"] == "DB_TIMEOUT"
    assert line["exitCode"] == 1 and line["suggestion"]


def test_flag_overrides_reach_the_settings(tasks: types.ModuleType) -> None:
    seen: list[Any] = []
    assert run_service(tasks, seen.append, {"db_timeout": "1234", "skip_seed": None}) == 0
    assert seen[0].db_timeout == 1234


def _boom(settings: object) -> None:
    raise RuntimeError(f"unexpected failure near {SECRET}")


def test_unexpected_error_is_one_line_exit_1_without_traceback(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", SECRET_CONNINFO)
    assert run_service(tasks, _boom) == 1
    out = capsys.readouterr()
    (line,) = [json.loads(raw) for raw in out.out.splitlines()]
    assert line["message"] == "Unexpected error" and line["level"] == "error"
    assert line["exitCode"] == 1 and line["suggestion"]
    assert line["error"] == f"RuntimeError: unexpected failure near {REDACTED}"
    assert "traceback" not in line and "Traceback" not in out.out + out.err
    assert SECRET not in out.out + out.err


def test_unexpected_error_at_debug_carries_a_redacted_traceback(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", SECRET_CONNINFO)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert run_service(tasks, _boom) == 1
    out = capsys.readouterr()
    (line,) = [json.loads(raw) for raw in out.out.splitlines()]
    assert line["exitCode"] == 1
    trace = line["traceback"]
    assert trace.startswith("Traceback (most recent call last)")
    assert "in _boom" in trace and f"RuntimeError: unexpected failure near {REDACTED}" in trace
    for text in (out.out, out.err, json.dumps(line)):
        assert SECRET not in text and json.dumps(SECRET)[1:-1] not in text


def test_ctrl_c_is_130_and_sigterm_is_143(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(settings: object) -> None:
        raise KeyboardInterrupt

    def terminated(settings: object) -> None:
        signal.raise_signal(signal.SIGTERM)  # the handler _run installed turns it into an error

    assert run_service(tasks, interrupted) == 130
    assert run_service(tasks, terminated) == 143
    first, second = lines_of(capsys)
    assert (first["message"], first["exitCode"]) == ("Interrupted by Ctrl-C", 130)
    assert (second["message"], second["exitCode"]) == ("Terminated by SIGTERM", 143)
    assert first["suggestion"] and second["suggestion"]


def test_a_signal_before_the_service_runs_is_still_130_or_143(
    tasks: types.ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while settings load (start-up, before logging is configured) is one line, 143."""
    import provisioning.settings

    def terminated_while_loading(*args: object, **kwargs: object) -> None:
        logging.getLogger(logs.ROOT_LOGGER).handlers.clear()  # as if before configure_fallback
        signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(provisioning.settings, "load_settings", terminated_while_loading)
    assert run_service(tasks, lambda settings: None) == 143
    (line,) = lines_of(capsys)
    assert (line["message"], line["exitCode"]) == ("Terminated by SIGTERM", 143)


# --- the CLI surface: `inv` itself ---------------------------------------------------------


def inv(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if k not in PROJECT_VARS}
    full.update(LOG_FORMAT="json", **env)
    return subprocess.run(
        [INV, *args], cwd=PROJECT_ROOT, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


TASKS = [
    "wait", "migrate", "status", "verify", "seed", "provision", "reset", "rollback", "forget",
    "new", "doctor", "server.start", "server.stop", "server.status",
]  # fmt: skip


def test_inv_list_shows_every_task_with_help_text() -> None:
    proc = inv("--list")
    assert proc.returncode == 0
    listed = dict(re.findall(r"^  (\S+)\s+(\S.*)$", proc.stdout, re.MULTILINE))
    for name in TASKS:
        assert listed.get(name), f"{name} has no help text in inv --list"


@pytest.mark.parametrize("name", TASKS)
def test_inv_help_documents_every_flag(name: str) -> None:
    proc = inv("--help", name)
    assert proc.returncode == 0, proc.stderr
    assert "Docstring:\n  none" not in proc.stdout
    options = proc.stdout.split("Options:", 1)[1]
    for flag, text in re.findall(r"^  (-\S.*?)\s{2,}(.*)$", options, re.MULTILINE):
        assert text.strip(), f"{name} {flag} has no help"
    if name == "wait":
        assert "--timeout" in options and "milliseconds" in options and "DB_TIMEOUT" in options


@pytest.mark.parametrize(
    ("env", "variable"),
    [({"DB_TIMEOUT": "abc"}, "DB_TIMEOUT"), ({"LOG_LEVEL": "loud"}, "LOG_LEVEL")],
)
def test_inv_exits_with_exactly_the_error_s_code(env: dict[str, str], variable: str) -> None:
    proc = inv("wait", **env)
    assert proc.returncode == 1
    (line,) = [json.loads(raw) for raw in proc.stdout.splitlines()]
    assert line["variable"] == variable and line["exitCode"] == 1 and line["suggestion"]
    assert proc.stderr == ""  # no raw duplicate from invoke, no traceback


def test_inv_timeout_flag_is_validated_like_db_timeout() -> None:
    proc = inv("wait", "--timeout", "-5")
    assert proc.returncode == 1
    assert '"variable":"DB_TIMEOUT"' in proc.stdout
