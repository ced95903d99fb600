"""Speed guard: listing tasks or reading help must not pay for psycopg, pydantic or rich."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HEAVY = ("psycopg", "pydantic", "pydantic_settings", "pydantic_core", "rich", "pglast")


def _imported(importtime_stderr: str) -> set[str]:
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_importing_tasks_loads_no_runtime_dependency() -> None:
    code = (
        "import sys, tasks\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy"
        " or m.startswith('provisioning.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [["--list"], ["--help", "migrate"], ["--help", "provision"]])
def test_inv_list_and_help_import_no_runtime_dependency(args: list[str]) -> None:
    inv = Path(sys.executable).parent / "inv"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(inv), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip()  # it did list / explain something
    assert not _imported(done.stderr) & set(HEAVY)
