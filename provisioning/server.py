"""`inv server.*`: start, stop and describe the embedded PostgreSQL server."""

from __future__ import annotations

import logging

from provisioning import embedded
from provisioning.errors import RefusedError
from provisioning.settings import Settings

log = logging.getLogger(__name__)


def _embedded_only(settings: Settings) -> None:
    if not settings.embedded:
        raise RefusedError(
            "DATABASE_URL is set: the embedded server is not in use",
            suggestion="Unset DATABASE_URL to use the embedded server, or manage your own.",
        )


def start_server(settings: Settings) -> None:
    _embedded_only(settings)
    already = embedded.running_server(settings.project_root)
    server = already or embedded.start(settings.project_root)
    message = "Embedded PostgreSQL already running" if already else "Embedded PostgreSQL started"
    log.info(message, extra={"fields": {"pid": server.pid, "socketDir": str(server.socket_dir)}})


def stop_server(settings: Settings) -> None:
    _embedded_only(settings)
    stopped = embedded.stop(settings.project_root)
    log.info("Embedded PostgreSQL stopped" if stopped else "Embedded PostgreSQL was not running")


def server_status(settings: Settings) -> None:
    server = embedded.running_server(settings.project_root)
    if server is None:
        log.info("Embedded PostgreSQL is not running")
    else:
        fields = {"pid": server.pid, "socketDir": str(server.socket_dir), "port": server.port}
        log.info("Embedded PostgreSQL is running", extra={"fields": fields})
