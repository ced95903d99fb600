"""SIGKILL of `inv migrate` / `inv provision` at random points of a run of many migrations.

A cycle starts from an empty schema and kills up to KILLS_PER_CYCLE runs in a row, each after
a delay drawn uniformly from [0, measured duration of a full run]; after every kill each file
must be applied with its tracking row or absent with none. The cycle ends with a run that must
exit 0 and apply everything. The seed and every delay are printed (pytest -s, or the failure
message) so a failing kill point can be replayed with HARDENING_SEED.

CI: CYCLES * KILLS_PER_CYCLE kill points per task; HARDENING_REPEAT=N multiplies the cycles.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from faults_support import REPEAT, Run, assert_consistent, corpus, reset_schema

from provisioning.applying import APPLIED, APPLYING

FILES = 50
ROWS = 10000
CYCLES = 6
KILLS_PER_CYCLE = 3


def _env(database: str, mdir: Path) -> dict[str, str]:
    return {"DATABASE_URL": database, "MIGRATIONS_DIR": str(mdir), "SKIP_SEED": "true"}


def _in_flight(run: Run) -> bool:
    """Whether the run had logged `Applying migration` for a file it never finished."""
    started = finished = 0
    for line in run.lines():
        started += line.get("message") == APPLYING
        finished += line.get("message") == APPLIED
    return started > finished


@pytest.mark.slow
@pytest.mark.parametrize("task", ["migrate", "provision"])
def test_sigkill_at_random_points_leaves_whole_files(
    database: str, tmp_path: Path, task: str
) -> None:
    mdir = corpus(tmp_path, FILES, ROWS)
    env = _env(database, mdir)
    seed = int(os.environ.get("HARDENING_SEED", random.randrange(2**32)))
    rng = random.Random(seed)

    calibration = Run([task], tmp_path, "calibration", **env)
    assert calibration.wait() == 0, calibration.stdout + calibration.stderr
    duration = time.monotonic() - calibration.started
    assert assert_consistent(database, FILES, ROWS) == FILES
    print(f"\n{task}: seed={seed} full run {duration:.2f}s")

    kills = mid_file = 0
    log: list[str] = []
    for cycle in range(CYCLES * REPEAT):
        reset_schema(database)
        for attempt in range(KILLS_PER_CYCLE):
            delay = rng.uniform(0, duration)
            run = Run([task], tmp_path, f"c{cycle}k{attempt}", **env)
            time.sleep(max(0.0, delay - (time.monotonic() - run.started)))
            finished = run.proc.poll() is not None
            if not finished:
                os.kill(run.pid, signal.SIGKILL)
            code = run.wait()
            where = f"seed={seed} cycle={cycle} kill={attempt} delay={delay:.3f}s"
            log.append(where)
            if finished:
                assert code == 0, f"{where}\n{run.stdout}{run.stderr}"
            else:
                kills += 1
                mid_file += _in_flight(run)
            applied = assert_consistent(database, FILES, ROWS, where)
            if finished:
                assert applied == FILES, where
                break
        final = Run([task], tmp_path, f"c{cycle}final", **env)
        assert final.wait() == 0, f"seed={seed} cycle={cycle}\n{final.stdout}{final.stderr}"
        assert assert_consistent(database, FILES, ROWS) == FILES
    print(f"{task}: {kills} kill points ({mid_file} inside a file) over {CYCLES * REPEAT} cycles")
    print("\n".join(log))
    assert kills >= CYCLES * REPEAT  # most attempts must land before the run ends
