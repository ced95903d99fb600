"""Where start-up time goes: `python -X importtime` of the commands the benchmark measures.

    python -m benchmarks.profile            # writes benchmarks/results/profile.md

Each module's *own* import time is charged to the package that first pulled it in (the
innermost non-standard-library module above it in the import tree), so `unittest.mock`
imported by `invoke.context` counts as invoke's cost. Medians of several runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from benchmarks.corpus import realistic_corpus, write_all
from benchmarks.measure import Server, check, run_timed
from benchmarks.run import DEFAULT_URL
from benchmarks.tools import BIN, IMPORT_FLOOR, REPO_ROOT, base_env

RESULTS = Path(__file__).parent / "results"
GROUPS = {
    "invoke": "invoke",
    "pydantic": "pydantic + pydantic-settings",
    "pydantic_core": "pydantic + pydantic-settings",
    "pydantic_settings": "pydantic + pydantic-settings",
    "annotated_types": "pydantic + pydantic-settings",
    "typing_extensions": "pydantic + pydantic-settings",
    "typing_inspection": "pydantic + pydantic-settings",
    "dotenv": "pydantic + pydantic-settings",
    "psycopg": "psycopg",
    "psycopg_binary": "psycopg",
    "provisioning": "this project (provisioning/)",
    "tasks": "this project (provisioning/)",
    "rich": "rich",
}
STDLIB = set(sys.stdlib_module_names)


def charge(importtime: str) -> dict[str, float]:
    """Milliseconds of import time per group, from one `-X importtime` stderr."""
    nodes = []
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line.split("|")
        own, name = parts[0].replace("import time:", "").strip(), parts[2]
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        nodes.append((level, name.strip(), int(own)))
    totals: dict[str, float] = defaultdict(float)
    stack: list[str] = []  # owners by level, walking the tree parent-first
    for level, name, own_us in reversed(nodes):
        del stack[level:]
        top = name.split(".")[0]
        third_party = top not in STDLIB and not top.startswith("_")
        owner = top if third_party or top.startswith("__editable__") else None
        if owner is None:
            owner = next((o for o in reversed(stack) if o), "")
        stack.append(owner)
        group = GROUPS.get(owner, "other third-party" if owner else "Python start-up + stdlib")
        if owner.startswith("__editable__"):
            group = "editable-install finder (site)"
        totals[group] += own_us / 1000
    return totals


def profile(command: list[str], env: dict[str, str], runs: int) -> tuple[float, dict[str, float]]:
    walls, groups = [], defaultdict(list)
    for _ in range(runs):
        sample = check(run_timed(command, env=env, cwd=REPO_ROOT), " ".join(command[-2:]))
        walls.append(sample.seconds)
        script = command[1:] if command[0] == sys.executable else command
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *script],
            env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        for group, ms in charge(done.stderr).items():
            groups[group].append(ms)
    return statistics.median(walls), {g: statistics.median(v) for g, v in groups.items()}


def main() -> int:
    runs = int(os.environ.get("PROFILE_RUNS", "7"))
    inv = str(BIN / "inv")
    server = Server(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    lines = ["Import time by package (ms, median of "
             f"{runs}; each module charged to the package that imported it) and whole-process "
             "wall time (s). `-X importtime` itself adds overhead, so columns do not sum to "
             "the wall time exactly.", ""]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="nexus-profile-") as tmp:
        files = write_all(realistic_corpus(), Path(tmp))
        db = server.create_database()
        try:
            env = base_env()
            env.update(DATABASE_URL=server.database_url(db), MIGRATIONS_DIR=str(files.nexus),
                       LOG_FORMAT="json")  # fmt: skip
            check(run_timed([inv, "migrate"], env=env, cwd=REPO_ROOT), "initial migrate")
            cases = {
                "inv --list": [inv, "--list"],
                "inv migrate (re-run, 19 files)": [inv, "migrate"],
                "inv status (19 files)": [inv, "status"],
                "Python import floor": [sys.executable, "-c", IMPORT_FLOOR],
            }
            results = {name: profile(cmd, env, runs) for name, cmd in cases.items()}
        finally:
            server.drop_database(db)
            server.close()
    groups = sorted({g for _, per in results.values() for g in per})
    lines.append("| package | " + " | ".join(results) + " |")
    lines.append("|---|" + "---:|" * len(results))
    for group in groups:
        cells = [f"{per.get(group, 0):.0f}" for _, per in results.values()]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("| **wall time (s)** | " + " | ".join(f"{w:.3f}" for w, _ in results.values())
                 + " |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "profile.md").write_text(text, "utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
