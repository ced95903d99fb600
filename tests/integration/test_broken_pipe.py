"""A reader that goes away (`inv wait | head -1`) must not turn log lines into tracebacks."""

from __future__ import annotations

import subprocess

from conftest import INV, PROJECT_ROOT, inv_env


def test_closed_stdout_gives_no_traceback() -> None:
    env = inv_env(
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        DB_TIMEOUT="1500",
        DB_BACKOFF_BASE_MS="100",
    )
    proc = subprocess.Popen(
        [INV, "wait"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # read one line, then hang up like `head -1`
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 2
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
