"""`inv reset`: development only. Destroy all data, then provision again.

When the role may (superuser, or owner of the database with CREATEDB), the database is dropped
and recreated from the `postgres` maintenance database. Otherwise every schema the role owns
is dropped and `public` recreated. The embedded server's database is `nexus`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from provisioning import db
from provisioning.confirm import confirm
from provisioning.errors import RefusedError
from provisioning.settings import Settings

log = logging.getLogger(__name__)

MAINTENANCE_DATABASES = ("postgres", "template1")
RESET_REFUSED_PRODUCTION = "Refusing to reset: APP_ENV=production"
RESET_REFUSED_SUGGESTION = (
    "Nothing was changed. reset destroys all data and never runs in production; "
    "use `inv rollback` or a new migration instead."
)
DATABASE_RECREATED = "Database dropped and recreated"
SCHEMAS_DROPPED = "Schemas dropped and public recreated"
RESET_FAILED = "Reset failed"

SYSTEM_SCHEMA = r"^(pg_.*|information_schema)$"
OWNED_SCHEMAS = """
    SELECT nspname FROM pg_namespace
    WHERE pg_has_role(current_user, nspowner, 'MEMBER') AND nspname !~ %s
    ORDER BY nspname
"""
# Objects the role owns in schemas it does not own (e.g. `public` owned by someone else).
OWNED_OBJECTS = """
    SELECT 'TABLE', n.nspname, c.relname, NULL FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'f') AND pg_has_role(current_user, c.relowner, 'MEMBER')
        AND NOT pg_has_role(current_user, n.nspowner, 'MEMBER') AND n.nspname !~ %(sys)s
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
           ELSE 'SEQUENCE' END, n.nspname, c.relname, NULL FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('v', 'm', 'S') AND pg_has_role(current_user, c.relowner, 'MEMBER')
        AND NOT pg_has_role(current_user, n.nspowner, 'MEMBER') AND n.nspname !~ %(sys)s
    UNION ALL
    SELECT 'ROUTINE', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.prokind IN ('f', 'p') AND pg_has_role(current_user, p.proowner, 'MEMBER')
        AND NOT pg_has_role(current_user, n.nspowner, 'MEMBER') AND n.nspname !~ %(sys)s
    UNION ALL
    SELECT 'TYPE', n.nspname, t.typname, NULL FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typtype IN ('d', 'e', 'r', 'm', 'c') AND t.typelem = 0
        AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
        AND pg_has_role(current_user, t.typowner, 'MEMBER')
        AND NOT pg_has_role(current_user, n.nspowner, 'MEMBER') AND n.nspname !~ %(sys)s
"""
ROLE_POWERS = """
    SELECT current_database(), r.rolsuper, r.rolcreatedb,
           pg_has_role(current_user, d.datdba, 'MEMBER'), pg_get_userbyid(d.datdba)
    FROM pg_roles r, pg_database d
    WHERE r.rolname = current_user AND d.datname = current_database()
"""


@dataclass(frozen=True)
class Powers:
    database: str
    superuser: bool
    createdb: bool
    owns_database: bool
    owner: str

    @property
    def may_recreate(self) -> bool:
        return self.superuser or (self.owns_database and self.createdb)


def _powers(conn: psycopg.Connection) -> Powers:
    row = conn.execute(ROLE_POWERS).fetchone()
    assert row is not None, "current_database() always has a pg_database row"
    return Powers(*row)


def _maintenance_connection(settings: Settings) -> psycopg.Connection:
    last: Exception | None = None
    for name in MAINTENANCE_DATABASES:
        try:
            return db.connect(settings, dbname=name)
        except db.ConnectError as exc:
            last = exc
    assert last is not None
    raise last


def recreate_database(settings: Settings, powers: Powers) -> None:
    """DROP DATABASE ... WITH (FORCE) and CREATE it again with the same owner."""
    name = sql.Identifier(powers.database)
    with _maintenance_connection(settings) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if powers.superuser:
            owner = sql.Identifier(powers.owner)
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, owner))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    log.info(DATABASE_RECREATED, extra={"fields": {"database": powers.database}})


def drop_owned_schemas(conn: psycopg.Connection) -> list[str]:
    """Drop every schema the role owns (and what it owns elsewhere), recreate `public`."""
    with conn.transaction():
        schemas = [row[0] for row in conn.execute(OWNED_SCHEMAS, (SYSTEM_SCHEMA,)).fetchall()]
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        for kind, schema, name, args in conn.execute(
            OWNED_OBJECTS, {"sys": SYSTEM_SCHEMA}
        ).fetchall():
            target: sql.Composable = sql.Identifier(schema, name)
            if args is not None:  # a routine: its argument types tell overloads apart
                target = sql.SQL("{}({})").format(target, sql.SQL(args))
            drop = sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(kind), target)
            conn.execute(drop)  # CASCADE may already have removed it: IF EXISTS
        conn.execute("CREATE SCHEMA IF NOT EXISTS public")
    log.info(SCHEMAS_DROPPED, extra={"fields": {"schemas": schemas}})
    return schemas


def destroy_data(settings: Settings) -> None:
    """Drop everything the role may drop: the whole database if it can, else its schemas."""
    try:
        with db.connect(settings) as conn:
            powers = _powers(conn)
            if not powers.may_recreate or powers.database in MAINTENANCE_DATABASES:
                drop_owned_schemas(conn)
                return
        recreate_database(settings, powers)
    except psycopg.Error as exc:
        raise RefusedError(
            RESET_FAILED,
            error=(exc.diag.message_primary if exc.diag else None) or db.clean_error(exc),
            sqlstate=exc.sqlstate,
            suggestion="Close other sessions on the database, or reset as its owner.",
        ) from None


def reset_database(settings: Settings, yes: bool = False, provision_after: bool = True) -> None:
    """Refuse in production; confirm; destroy all data; provision again unless told not to."""
    if settings.app_env == "production":
        raise RefusedError(RESET_REFUSED_PRODUCTION, suggestion=RESET_REFUSED_SUGGESTION)
    target = db.describe_target(settings)
    confirm(
        "reset the database",
        f"Destroy ALL data in {target} and provision it again?",
        yes=yes,
    )
    destroy_data(settings)
    if provision_after:
        from provisioning.pipeline import provision

        provision(settings)
