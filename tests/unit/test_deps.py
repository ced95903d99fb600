"""The dependency check: Python older than 3.11 or a missing package exits 127."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.deps import PYTHON_TOO_OLD, REQUIRED_PACKAGES, check_dependencies
from provisioning.errors import DependencyError, ExitCode

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")


@pytest.mark.parametrize("version", [(3, 10), (3, 9, 18), (2, 7)])
def test_python_too_old(version: tuple[int, ...]) -> None:
    with pytest.raises(DependencyError) as caught:
        check_dependencies(version=version)
    err = caught.value
    assert err.exit_code == ExitCode.DEPENDENCY == 127
    found = f"{version[0]}.{version[1]}"
    assert err.message == f"Python version must be 3.11 or higher (found: {found})"
    assert err.message == PYTHON_TOO_OLD.format(need="3.11", found=found)
    assert "3.11" in err.suggestion


@pytest.mark.parametrize("version", [(3, 11), (3, 11, 0), (3, 12, 4), (3, 13), (4, 0)])
def test_python_new_enough(version: tuple[int, ...]) -> None:
    check_dependencies(version=version)


def test_the_running_interpreter_and_installed_packages_pass() -> None:
    check_dependencies()
    assert {"invoke", "psycopg", "pydantic_settings", "rich", "pglast"} <= set(REQUIRED_PACKAGES)


def test_a_missing_package_is_named() -> None:
    with pytest.raises(DependencyError) as caught:
        check_dependencies(packages=["psycopg", "no_such_package_xyz"])
    assert caught.value.exit_code == 127
    assert caught.value.message == "Required package missing: no_such_package_xyz"
    assert caught.value.fields["missing"] == ["no_such_package_xyz"]
    assert "pip install" in caught.value.suggestion


def test_a_package_that_fails_to_import_counts_as_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_pkg_xyz.py").write_text("raise ImportError('libfoo.so: not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DependencyError) as caught:
        check_dependencies(packages=["broken_pkg_xyz"])
    assert caught.value.fields["missing"] == ["broken_pkg_xyz"]


def test_the_version_check_comes_first() -> None:
    with pytest.raises(DependencyError, match="Python version"):
        check_dependencies(version=(3, 8), packages=["no_such_package_xyz"])


def test_inv_provision_exits_127_when_pglast_cannot_be_imported(tmp_path: Path) -> None:
    """A real `inv provision` with `pglast` shadowed by a module that raises ImportError."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pglast.py").write_text("raise ImportError('No module named pglast (shadowed)')\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(shadow), LOG_FORMAT="json", DB_TIMEOUT="1000")
    proc = subprocess.run(
        [INV, "provision"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 127, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # stopped before any database work: no readiness line
    (line,) = lines
    assert line["level"] == "error"
    assert line["message"] == "Required package missing: pglast"
    assert line["exitCode"] == 127 and line["suggestion"]
    assert "Traceback" not in proc.stderr


def test_any_task_exits_127_when_a_settings_dependency_is_absent(tmp_path: Path) -> None:
    """`inv wait` with pydantic_settings made absent: one JSON error line, exit 127."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pydantic_settings.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pydantic_settings'\", "
        "name='pydantic_settings')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(PYTHONPATH=str(shadow), LOG_FORMAT="json")
    proc = subprocess.run(
        [INV, "wait"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 127, proc.stdout + proc.stderr
    (line,) = [json.loads(raw) for raw in proc.stdout.splitlines()]
    assert line["message"] == "Required package missing: pydantic_settings"
    assert line["level"] == "error" and line["exitCode"] == 127 and line["suggestion"]
    assert line["timestamp"].endswith("Z")
    assert "Traceback" not in proc.stderr
