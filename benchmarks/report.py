"""Turn a results JSON into the markdown table, the targets check and the plot.

python -m benchmarks.report [benchmarks/results/latest.json]   # re-render without re-running
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).absolute().parent.parent
RESULTS = Path(__file__).parent / "results"

TOOL_ORDER = [
    "nexus", "nexus-1tx", "nexus-provision", "dbmate", "yoyo", "psql", "psql-per-file",
    "psql-per-file-async",
    "python-floor",
]  # fmt: skip
TOOL_HEADERS = {
    "nexus": "this project",
    "nexus-1tx": "this project `--single-transaction`",
    "nexus-provision": "this project `provision --skip-seed`",
    "dbmate": "dbmate",
    "yoyo": "yoyo",
    "psql": "`psql -1` floor",
    "psql-per-file": "`psql`, a transaction per file",
    "psql-per-file-async": "same, asynchronous commit",
    "python-floor": "Python import floor",
}
SCENARIO_LABELS = {"fresh": "fresh apply", "rerun": "re-run, nothing to do", "status": "status"}
STARTUP_LIMIT = 0.15


def _rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(data["results"])


def median(data: dict[str, Any], scenario: str, corpus: str, tool: str,
           key: str = "seconds") -> float | None:  # fmt: skip
    for row in _rows(data):
        if (row["scenario"], row["corpus"], row["tool"]) == (scenario, corpus, tool):
            return float(statistics.median(row[key])) if row[key] else None
    return None


def _corpora(data: dict[str, Any], scenario: str) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    for row in _rows(data):
        if row["scenario"] == scenario:
            seen.setdefault(row["corpus"], row["size"])
    return sorted(seen.items(), key=lambda item: (item[0] != "realistic", item[1]))


def _label(corpus: str, size: int) -> str:
    return f"realistic ({size} files)" if corpus == "realistic" else f"synthetic {size:,}"


def _tools_in(data: dict[str, Any]) -> list[str]:
    present = {row["tool"] for row in _rows(data) if row["scenario"] != "startup"}
    return [tool for tool in TOOL_ORDER if tool in present]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(data: dict[str, Any], scenario: str, corpus: str, tool: str) -> str:
    value = median(data, scenario, corpus, tool)
    if value is None and any(
        (s["scenario"], s["corpus"], s["tool"]) == (scenario, corpus, tool)
        for s in data.get("skipped", [])
    ):
        return "n/a¹"
    return _fmt(value)


def per_migration_cost(data: dict[str, Any], tool: str) -> float | None:
    """Least-squares slope, in ms per file, of (tool − psql floor) over the synthetic sizes."""
    points = []
    for corpus, size in _corpora(data, "fresh"):
        if corpus == "realistic":
            continue
        ours, floor = median(data, "fresh", corpus, tool), median(data, "fresh", corpus, "psql")
        if ours is not None and floor is not None:
            points.append((size, ours - floor))
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return 1000 * sum((x - mean_x) * (y - mean_y) for x, y in points) / den if den else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def targets(data: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, limit, met) for every target of the issue."""
    mid = next((c for c, s in _corpora(data, "rerun") if c != "realistic"), "synthetic-500")
    fresh_mid = mid if median(data, "fresh", mid, "nexus") is not None else "synthetic-500"
    out: list[tuple[str, str, str, bool | None]] = []

    def ratio_row(name: str, value: float | None, limit: float) -> None:
        met = None if value is None else value <= limit
        out.append((name, _fmt(value, 2) + " ×", f"≤ {limit} ×", met))

    m = lambda s, c, t: median(data, s, c, t)  # noqa: E731
    ratio_row(
        f"fresh {fresh_mid}: this project / dbmate",
        _ratio(m("fresh", fresh_mid, "nexus"), m("fresh", fresh_mid, "dbmate")),
        1.05,
    )
    ratio_row(
        f"fresh {fresh_mid}: this project / `psql -1`",
        _ratio(m("fresh", fresh_mid, "nexus"), m("fresh", fresh_mid, "psql")),
        1.1,
    )
    ours, theirs = per_migration_cost(data, "nexus"), per_migration_cost(data, "dbmate")
    out.append(
        (
            "cost per file above the floor: this project vs dbmate",
            f"{_fmt(ours, 2)} ms vs {_fmt(theirs, 2)} ms",
            "lower than dbmate",
            None if ours is None or theirs is None else ours < theirs,
        )
    )
    ratio_row(
        "re-run realistic: this project / Python import floor",
        _ratio(m("rerun", "realistic", "nexus"), m("rerun", "realistic", "python-floor")),
        1.15,
    )
    ratio_row(
        f"re-run {mid}: this project / Python import floor",
        _ratio(m("rerun", mid, "nexus"), m("rerun", mid, "python-floor")),
        1.3,
    )
    worst: tuple[float, str] | None = None
    for scenario in ("fresh", "rerun", "status"):
        for corpus, _ in _corpora(data, scenario):
            value = _ratio(m(scenario, corpus, "nexus"), m(scenario, corpus, "yoyo"))
            if value is not None and (worst is None or value > worst[0]):
                worst = (value, f"{scenario} {corpus}")
    out.append(
        (
            "faster than yoyo in every scenario (worst case)",
            "–" if worst is None else f"{worst[0]:.2f} × ({worst[1]})",
            "< 1 ×",
            None if worst is None else worst[0] < 1,
        )
    )
    for case in ("inv --list", "inv --help migrate"):
        value = m("startup", case, case)
        out.append(
            (
                f"`{case}`",
                _fmt(value) + " s",
                f"≤ {STARTUP_LIMIT} s",
                None if value is None else value <= STARTUP_LIMIT,
            )
        )
    for corpus in ("realistic", fresh_mid):
        ratio_row(
            f"`--single-transaction` fresh {corpus} / `psql -1`",
            _ratio(m("fresh", corpus, "nexus-1tx"), m("fresh", corpus, "psql")),
            1.1,
        )
    big = max((c for c, _ in _corpora(data, "fresh")), key=lambda c: _size(data, c))
    rss = _ratio(
        median(data, "fresh", big, "nexus", "max_rss_kb"),
        median(data, "fresh", "realistic", "nexus", "max_rss_kb"),
    )
    ratio_row(f"peak RSS fresh {big} / fresh realistic", rss, 1.5)
    return out  # fmt: skip


def _size(data: dict[str, Any], corpus: str) -> int:
    return next((row["size"] for row in _rows(data) if row["corpus"] == corpus), 0)


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    tools = _tools_in(data)
    lines = [
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores, "
        f"{meta['memory_gib']} GiB), {meta['os']}, Python {meta['python']}, "
        f"PostgreSQL {meta['postgresql_server']} on 127.0.0.1. "
        f"Medians of {meta['runs']} alternating rounds ({meta['large_runs']} for 2,000 files), "
        f"whole-process wall time in seconds, database creation excluded. "
        f"Load average {meta['loadavg_start'][0]:.2f} at start, "
        f"{meta['loadavg_end'][0]:.2f} at end; the run took {meta['duration_seconds']:.0f} s.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "| scenario | "
        + " | ".join(TOOL_HEADERS[t] for t in tools)
        + " | ours ÷ dbmate | ours ÷ yoyo |",
        "|---|" + "---:|" * (len(tools) + 2),
    ]
    for scenario in ("fresh", "rerun", "status"):
        for corpus, size in _corpora(data, scenario):
            cells = [_cell(data, scenario, corpus, tool) for tool in tools]
            ours = median(data, scenario, corpus, "nexus")
            for other in ("dbmate", "yoyo"):
                value = _ratio(ours, median(data, scenario, corpus, other))
                cells.append("–" if value is None else f"{value:.2f} ×")
            label = f"{SCENARIO_LABELS[scenario]}, {_label(corpus, size)}"
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if data.get("skipped"):
        lines += ["", "¹ One transaction creating that many tables needs more lock slots than "
                  "the server's `max_locks_per_transaction` (default 64) provides: PostgreSQL "
                  "answers `out of shared memory`, so there is no figure."]  # fmt: skip
    lines += ["", "| start-up | seconds |", "|---|---:|"]
    for corpus, _ in _corpora(data, "startup"):
        lines.append(f"| `{corpus}` | {_fmt(median(data, 'startup', corpus, corpus))} |")
    lines += ["", "Cost per file above the `psql -1` floor (least-squares slope over the "
              "synthetic sizes): " + ", ".join(
                  f"{TOOL_HEADERS[t]} {_fmt(per_migration_cost(data, t), 2)} ms"
                  for t in tools if t != "psql" and per_migration_cost(data, t) is not None)
              + "."]  # fmt: skip
    lines += ["", "Peak RSS (MiB) of the fresh apply:", "",
              "| corpus | " + " | ".join(TOOL_HEADERS[t] for t in tools) + " |",
              "|---|" + "---:|" * len(tools)]  # fmt: skip
    for corpus, size in _corpora(data, "fresh"):
        cells = []
        for tool in tools:
            kb = median(data, "fresh", corpus, tool, "max_rss_kb")
            cells.append(_fmt(None if kb is None else kb / 1024, 1))
        lines.append(f"| {_label(corpus, size)} | " + " | ".join(cells) + " |")
    lines += ["", "| target | measured | limit | met |", "|---|---:|---:|:---:|"]
    for name, value, limit, met in targets(data):
        mark = "–" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {value} | {limit} | {mark} |")
    return "\n".join(lines) + "\n"


def plot(data: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: pip install -e '.[bench]'; no plot written", file=sys.stderr)
        return None
    sizes = [(c, s) for c, s in _corpora(data, "fresh") if c != "realistic"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for tool in _tools_in(data):
        points = [(s, median(data, "fresh", c, tool)) for c, s in sizes]
        points = [(s, v) for s, v in points if v is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        left.plot(xs, ys, marker="o", label=TOOL_HEADERS[tool].replace("`", ""))
        per_file = [1000 * y / x for x, y in points]
        right.plot(xs, per_file, marker="o", label=TOOL_HEADERS[tool].replace("`", ""))
    left.set(
        xscale="log",
        yscale="log",
        xlabel="migrations (synthetic, fresh database)",
        ylabel="seconds (median, whole process)",
        title="Fresh apply: time vs migrations",
    )
    right.set(
        xscale="log",
        yscale="log",
        xlabel="migrations (synthetic, fresh database)",
        ylabel="milliseconds per migration",
        title="Cost per migration",
    )
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle(f"nexus-provisioning speed benchmark, {data['meta']['date']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else RESULTS / "latest.json"
    data = json.loads(source.read_text("utf-8"))
    text = markdown(data)
    (RESULTS / "latest.md").write_text(text, "utf-8")
    print(text)
    plot(data, Path(__file__).parent / "plot.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
