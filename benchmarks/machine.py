"""What the figures were measured on: machine, versions, date, load."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.measure import Server
from benchmarks.tools import REPO_ROOT, _exe


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"unavailable ({exc})"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0] if done.stdout or done.stderr else ""
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(server: Server) -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql_server": server.version(),
        "versions": {
            "nexus-provisioning": f"{_version('nexus-provisioning')} ({commit})",
            "dbmate": _first_line([_exe("dbmate"), "--version"]).split()[-1],
            "yoyo-migrations": _version("yoyo-migrations"),
            "psql": _first_line([_exe("psql"), "--version"]).replace("psql (PostgreSQL) ", ""),
            "invoke": _version("invoke"),
            "psycopg": _version("psycopg"),
            "pydantic-settings": _version("pydantic-settings"),
            "rich": _version("rich"),
        },
        "loadavg_start": os.getloadavg(),
    }
