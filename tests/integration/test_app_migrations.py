"""The shipped migrations/: apply with `inv migrate`, then every .down.sql in reverse."""

from __future__ import annotations

import psycopg
from conftest import PROJECT_ROOT, run_inv

from provisioning.migration_files import discover_migrations


def objects(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
    ).fetchall()
    return {row[0] for row in rows}


def test_shipped_migrations_apply_and_roll_back_cleanly(database: str) -> None:
    result = run_inv("migrate", DATABASE_URL=database)
    assert result.code == 0, result.stdout
    files = discover_migrations(PROJECT_ROOT / "migrations")
    assert [f.number for f in files] == [1, 2, 3, 4, 5]
    with psycopg.connect(database, autocommit=True) as conn:
        created = objects(conn)
        assert {"organizations", "users", "projects", "tasks", "set_updated_at"} <= created
        assert "users_email_key" in created
        org = conn.execute(
            "INSERT INTO organizations (slug, name) VALUES ('acme', 'Acme') RETURNING id"
        ).fetchone()
        assert org is not None
        conn.execute("UPDATE organizations SET name = 'Acme Inc' WHERE id = %s", org)
        touched = conn.execute(
            "SELECT updated_at > created_at FROM organizations WHERE id = %s", org
        ).fetchone()
        assert touched == (True,)
        try:
            conn.execute("INSERT INTO organizations (slug, name) VALUES ('Bad Slug', 'x')")
            raise AssertionError("the slug check did not fire")
        except psycopg.errors.CheckViolation:
            pass
        for mf in reversed(files):
            assert mf.down_path is not None
            with conn.transaction():
                conn.execute(mf.down_path.read_text())
                conn.execute("DELETE FROM schema_migrations WHERE filename = %s", (mf.filename,))
        conn.execute("DROP TABLE schema_migrations")
        assert objects(conn) == set()
