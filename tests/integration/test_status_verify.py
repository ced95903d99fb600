"""`inv status` and `inv verify` in each state, against a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from conftest import run_inv

from provisioning.status import STATUS_LINE, STATUS_SUMMARY
from provisioning.verify import CHECK_LINE, VERIFY_FAILED, VERIFY_PASSED

FILES = {"1_a.up.sql": "CREATE TABLE a (id int);", "2_b.up.sql": "CREATE TABLE b (id int);"}


def setup(tmp_path: Path) -> Path:
    mdir = tmp_path / "migrations"
    mdir.mkdir()
    for name, text in FILES.items():
        (mdir / name).write_text(text)
    return mdir


def run(task: str, database: str, mdir: Path) -> Any:
    return run_inv(task, DATABASE_URL=database, MIGRATIONS_DIR=str(mdir))


def states(result: Any) -> dict[str, str]:
    return {
        line["filename"]: line["state"] for line in result.lines if line["message"] == STATUS_LINE
    }


def failed_checks(result: Any) -> list[str]:
    return [
        line["check"] for line in result.lines if line["message"] == CHECK_LINE and not line["ok"]
    ]


def has_table(database: str) -> bool:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        return bool(row and row[0])


def test_no_tracking_table(database: str, tmp_path: Path) -> None:
    mdir = setup(tmp_path)
    status = run("status", database, mdir)
    assert status.code == 0
    assert states(status) == {"1_a.up.sql": "pending", "2_b.up.sql": "pending"}
    assert all(line["appliedAt"] is None for line in status.lines if line["message"] == STATUS_LINE)
    assert status.find(STATUS_SUMMARY)["pending"] == 2
    verify = run("verify", database, mdir)
    assert verify.code == 3
    assert "tracking table" in failed_checks(verify) and "nothing pending" in failed_checks(verify)
    assert verify.find(VERIFY_FAILED)["exitCode"] == 3
    assert not has_table(database)


def test_all_applied(database: str, tmp_path: Path) -> None:
    mdir = setup(tmp_path)
    assert run("migrate", database, mdir).code == 0
    status = run("status", database, mdir)
    assert states(status) == {"1_a.up.sql": "applied", "2_b.up.sql": "applied"}
    assert all(line["appliedAt"] for line in status.lines if line["message"] == STATUS_LINE)
    verify = run("verify", database, mdir)
    assert verify.code == 0
    checks = [line["check"] for line in verify.lines if line["message"] == CHECK_LINE]
    assert checks == [
        "connectivity",
        "tracking table",
        "checksums",
        "applied count",
        "nothing pending",
    ]
    verify.find(VERIFY_PASSED)


def test_pending_mismatch_and_missing(database: str, tmp_path: Path) -> None:
    mdir = setup(tmp_path)
    assert run("migrate", database, mdir).code == 0
    (mdir / "1_a.up.sql").write_text("CREATE TABLE a (id bigint);")
    (mdir / "2_b.up.sql").rename(mdir / "3_c.up.sql")
    status = run("status", database, mdir)
    assert status.code == 0
    assert states(status) == {
        "1_a.up.sql": "checksum mismatch",
        "2_b.up.sql": "missing file",
        "3_c.up.sql": "pending",
    }
    verify = run("verify", database, mdir)
    assert verify.code == 3
    assert failed_checks(verify) == ["checksums", "nothing pending"]


def test_pending_only_fails_verify(database: str, tmp_path: Path) -> None:
    mdir = setup(tmp_path)
    assert run("migrate", database, mdir).code == 0
    (mdir / "3_c.up.sql").write_text("SELECT 1;")
    verify = run("verify", database, mdir)
    assert verify.code == 3
    assert failed_checks(verify) == ["applied count", "nothing pending"]


def test_unreachable_server_exits_2(tmp_path: Path) -> None:
    mdir = setup(tmp_path)
    url = "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"
    for task in ("status", "verify"):
        result = run_inv(task, DATABASE_URL=url, MIGRATIONS_DIR=str(mdir), DB_TIMEOUT="2000")
        assert result.code == 2, (task, result.stdout)
        assert result.lines[-1]["exitCode"] == 2
