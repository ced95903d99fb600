"""Speed benchmark: this project against dbmate, yoyo-migrations and the `psql -1` floor.

    pip install -e ".[bench]" && python -m benchmarks.run            # full run (≈15 min)
    python -m benchmarks.run --quick                                 # smoke run (≈1 min)

Tools run alternating (the order rotates every round) against a fresh `bench_<uuid>` database
each, created and dropped outside the timed span. Every run is checked: exit code, number of
tables created and number of tracking rows; a failed run stops the benchmark. Results go to
`benchmarks/results/<stamp>.json` and `latest.json` (ignored by git), the table to
`benchmarks/results/latest.md` and the plot to `benchmarks/plot.png`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import machine, report
from benchmarks.corpus import CorpusFiles, realistic_corpus, synthetic_corpus, write_all
from benchmarks.measure import RunFailed, Sample, Server, check, run_timed
from benchmarks.tools import Tool, all_tools, startup_commands

RESULTS = Path(__file__).parent / "results"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432"
FULL_SIZES = (10, 100, 500, 2000)
QUICK_SIZES = (10, 50)


LOCK_LIMIT = ("out of shared memory", "max_locks_per_transaction")


class Recorder:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []

    def skip(self, scenario: str, corpus: str, tool: str, reason: str) -> None:
        self.skipped.append({"scenario": scenario, "corpus": corpus, "tool": tool,
                             "reason": reason})  # fmt: skip

    def add(self, scenario: str, corpus: str, size: int, tool: str, sample: Sample) -> None:
        for row in self.rows:
            if (row["scenario"], row["corpus"], row["tool"]) == (scenario, corpus, tool):
                break
        else:
            row = {"scenario": scenario, "corpus": corpus, "size": size, "tool": tool,
                   "seconds": [], "max_rss_kb": []}  # fmt: skip
            self.rows.append(row)
        row["seconds"].append(round(sample.seconds, 5))
        row["max_rss_kb"].append(sample.max_rss_kb)


def rotated(items: Sequence[Tool], round_number: int) -> Iterator[Tool]:
    """Alternate tools: round r starts at tool r, so none always runs first or last."""
    for offset in range(len(items)):
        yield items[(round_number + offset) % len(items)]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _verify(server: Server, db: str, tool: Tool, files: CorpusFiles, expected: int) -> None:
    tables, tracked = server.counts(db, tool.tracking_table)
    want_tracked = files.corpus.size if tool.tracking_table else 0
    if tables != expected or tracked != want_tracked:
        raise RunFailed(
            f"{tool.name} on {files.corpus.name}: {tables} tables (want {expected}), "
            f"{tracked} tracking rows (want {want_tracked})"
        )


def _run_tool(tool: Tool, command: list[str], url: str, files: CorpusFiles) -> Sample:
    sample = run_timed(command, env=tool.env(url, files), cwd=tool.cwd)
    return check(sample, f"{tool.name} {' '.join(command[1:3])} on {files.corpus.name}")


def expected_tables(server: Server, files: CorpusFiles) -> int:
    """Apply the corpus once with psql (untimed) and count what it creates."""
    db = server.create_database()
    try:
        url = server.database_url(db)
        check(run_timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url,
                         "-f", str(files.per_file)]), "psql reference apply")  # fmt: skip
        return server.counts(db, None)[0]
    finally:
        server.drop_database(db)


def bench_fresh(server: Server, rec: Recorder, files: CorpusFiles, tools: list[Tool],
                runs: int, expected: int) -> None:  # fmt: skip
    tools = [t for t in tools if t.fresh is not None]
    over_limit: set[str] = set()
    for round_number in range(runs):
        for tool in rotated(tools, round_number):
            assert tool.fresh is not None
            if tool.name in over_limit:
                continue
            db = server.create_database()  # outside the timed span
            try:
                url = server.database_url(db)
                sample = _run_tool(tool, tool.fresh(url, files), url, files)
                _verify(server, db, tool, files, expected)
            except RunFailed as exc:
                if not any(marker in str(exc) for marker in LOCK_LIMIT):
                    raise
                # One transaction over thousands of tables: beyond the server's lock table.
                over_limit.add(tool.name)
                rec.skip("fresh", files.corpus.name, tool.name,
                         "one transaction exceeds max_locks_per_transaction")  # fmt: skip
                _say(f"  {tool.name} on {files.corpus.name}: out of lock slots, skipped")
                continue
            finally:
                server.drop_database(db)
            rec.add("fresh", files.corpus.name, files.corpus.size, tool.name, sample)
        _say(f"  fresh {files.corpus.name}: round {round_number + 1}/{runs}")


def bench_applied(server: Server, rec: Recorder, files: CorpusFiles, tools: list[Tool],
                  runs: int, expected: int) -> None:  # fmt: skip
    """Idempotent re-run and status, each tool against a database it migrated itself."""
    appliers = {t.name: t for t in tools if t.fresh is not None and t.rerun is not None}
    databases: dict[str, str] = {}
    try:
        for name, tool in appliers.items():
            assert tool.fresh is not None
            databases[name] = server.create_database()
            url = server.database_url(databases[name])
            _run_tool(tool, tool.fresh(url, files), url, files)
            _verify(server, databases[name], tool, files, expected)
        # Tools that only re-run (provision) use this project's database.
        applied_by = {t.name: ("nexus" if t.name.startswith("nexus") else t.name) for t in tools}
        for scenario in ("rerun", "status"):
            cases = [t for t in tools if getattr(t, scenario) is not None
                     and (applied_by[t.name] in databases or t.tracking_table is None)]  # fmt: skip
            for round_number in range(runs):
                for tool in rotated(cases, round_number):
                    command = getattr(tool, scenario)
                    db = databases.get(applied_by[tool.name], "postgres")
                    url = server.database_url(db)
                    sample = _run_tool(tool, command(url, files), url, files)
                    rec.add(scenario, files.corpus.name, files.corpus.size, tool.name, sample)
            _say(f"  {scenario} {files.corpus.name}: {runs} rounds")
        for name, db in databases.items():  # nothing was applied twice
            _verify(server, db, appliers[name], files, expected)
    finally:
        for db in databases.values():
            server.drop_database(db)


def bench_startup(rec: Recorder, runs: int) -> None:
    commands = startup_commands()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    names = list(commands)
    for round_number in range(runs):
        for offset in range(len(names)):
            name = names[(round_number + offset) % len(names)]
            sample = check(run_timed(commands[name], env=env, cwd=report.REPO_ROOT), name)
            rec.add("startup", name, 0, name, sample)
    _say(f"  start-up: {runs} rounds")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, small corpora")
    parser.add_argument("--runs", type=int, help="rounds per case (default 5; quick 1)")
    parser.add_argument("--large-runs", type=int, help="rounds for the 2,000-file case (3)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="synthetic corpus sizes (default 10,100,500,2000)")  # fmt: skip
    parser.add_argument("--tools", help="comma-separated subset of: " + ",".join(all_tools()))
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
                        help="server URL without database (default %(default)s)")  # fmt: skip
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)

    runs = args.runs or (1 if args.quick else 5)
    large_runs = args.large_runs or (1 if args.quick else 3)
    sizes = args.sizes or list(QUICK_SIZES if args.quick else FULL_SIZES)
    catalog = all_tools()
    chosen = args.tools.split(",") if args.tools else list(catalog)
    tools = [catalog[name] for name in chosen]
    rerun_size = 500 if 500 in sizes else max(sizes)

    server = Server(args.url)
    left = server.drop_leftovers()
    if left:
        _say(f"dropped {left} leftover bench_* database(s)")
    meta = machine.describe(server)
    meta.update(runs=runs, large_runs=large_runs, sizes=sizes, quick=args.quick)
    rec = Recorder()
    started = time.perf_counter()

    def save(name: str) -> dict[str, Any]:
        meta["duration_seconds"] = round(time.perf_counter() - started, 1)
        meta["loadavg_end"] = os.getloadavg()
        data = {"meta": meta, "results": rec.rows, "skipped": rec.skipped}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / name).write_text(json.dumps(data, indent=1) + "\n", "utf-8")
        return data

    with tempfile.TemporaryDirectory(prefix="nexus-bench-") as tmp:
        corpora = [write_all(realistic_corpus(), Path(tmp))]
        corpora += [write_all(synthetic_corpus(n), Path(tmp)) for n in sizes]
        _say(f"benchmark: {len(tools)} tools, {runs} rounds, sizes {sizes}")
        bench_startup(rec, max(runs, 10) if not args.quick else 3)
        for files in corpora:
            expected = expected_tables(server, files)
            n_runs = large_runs if files.corpus.size >= 2000 else runs
            bench_fresh(server, rec, files, tools, n_runs, expected)
            if files.corpus.name in ("realistic", f"synthetic-{rerun_size}"):
                bench_applied(server, rec, files, tools, runs, expected)
            save("partial.json")  # a crash later still leaves what was measured
    server.close()

    save(f"{time.strftime('%Y%m%dT%H%M%S')}.json")
    data = save("latest.json")
    (RESULTS / "partial.json").unlink(missing_ok=True)
    markdown = report.markdown(data)
    (RESULTS / "latest.md").write_text(markdown, "utf-8")
    print(markdown)
    if not args.no_plot:
        plot = report.plot(data, Path(__file__).parent / "plot.png")
        _say(f"plot: {plot}")
    _say(f"results: {RESULTS / 'latest.json'} ({meta['duration_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
