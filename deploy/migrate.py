#!/usr/bin/env python3
"""The migrate role (deploy/entrypoint.py): `manage.py migrate` for one service, one at a time,
with lock and statement timeouts.

- One migration at a time: a PostgreSQL session advisory lock on the service's database is held
  while migrate runs. A second migrate (a retried pipeline action, a task started by hand) waits
  for it, without a cap of its own, and then finds nothing left to apply.
- lock_timeout (MIGRATION_LOCK_TIMEOUT, default 5s): a schema change that cannot take its lock in
  that time fails instead of queueing every request of the running release behind its waiting
  ACCESS EXCLUSIVE request. The release stops; retry when the long transaction is gone.
- statement_timeout (MIGRATION_STATEMENT_TIMEOUT, default 30min): no single statement runs
  unbounded; a data migration that needs longer runs in batches.

The timeouts reach migrate's own connections through PGOPTIONS (libpq). SIGTERM (ECS stopping the
task) is passed on to migrate, which PostgreSQL then rolls back statement by statement.

Migrations run as the database's owner: the RDS master user of the service's own instance, or on
an instance several services share (database.yaml) the service's owner role. There the database
and that role may not exist yet: with DATABASE_ADMIN_URL (the shared instance's master, given to
the migrate task alone) this step first creates them when missing, the database owned by the
role, CONNECT revoked from everyone else, the role with CREATEROLE (to create the application
role and the rotation's clone) and no other privilege; it never changes an existing role's
password (Secrets Manager rotates it).

The application connects as its own role, DATABASE_APP_ROLE, which may read and write rows and
nothing more (no DDL, no other database). After a successful migrate this step creates that role
when it is missing (with DATABASE_APP_PASSWORD, the app secret's first password) and grants it,
idempotently. It never changes an existing role's password: Secrets Manager's rotation owns it
(alternating users: the rotation creates `<role>_clone` as a member of the role, so both inherit
these grants).

All-in-one (SERVICE=all: deploy/entrypoint.py gives every service's alias its <NAME>_DATABASE_URL on
the same server): the owner creates the services' databases when missing, `migrate` migrates every
alias, and the application role is granted in each database.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.services import SERVICES  # noqa: E402  (needs ROOT on sys.path)

# A constant 64-bit key; advisory locks are per database, so each service's database has its own.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"shopstack-migrate").digest()[:8], "big", signed=True)
DEFAULT_LOCK_TIMEOUT = "5s"
DEFAULT_STATEMENT_TIMEOUT = "30min"


def pg_options(env: Mapping[str, str]) -> str:
    """PGOPTIONS for migrate's connections: the caller's, then the two timeouts."""
    lock_timeout = env.get("MIGRATION_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    statement_timeout = env.get("MIGRATION_STATEMENT_TIMEOUT", DEFAULT_STATEMENT_TIMEOUT)
    options = [env.get("PGOPTIONS", ""), f"-c lock_timeout={lock_timeout}", f"-c statement_timeout={statement_timeout}"]
    return " ".join(option for option in options if option)


def run_locked(command: Sequence[str], *, url: str, env: Mapping[str, str], key: int = LOCK_KEY) -> int:
    """Runs `command` while holding the advisory lock `key` on the database at `url`; its exit code."""
    with psycopg.connect(url, autocommit=True) as connection:
        print("migrate: waiting for the migration lock", flush=True)
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        print("migrate: lock held; migrating", flush=True)
        child = subprocess.Popen(list(command), env={**env, "PGOPTIONS": pg_options(env)})
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def database_provision(admin_url: str, *, owner_url: str) -> None:
    """On a shared instance: create the database and the owner role that `owner_url` names when
    they are missing, logged in as the instance's master (`admin_url`). Safe to run again, and
    twice at once (an advisory lock per database name)."""
    owner = conninfo_to_dict(owner_url)
    role, password, database = owner["user"], owner.get("password", ""), owner["dbname"]
    key = int.from_bytes(hashlib.sha256(f"shopstack-provision:{database}".encode()).digest()[:8], "big", signed=True)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                if not password:
                    raise SystemExit(f"migrate: role {role} does not exist and DATABASE_PASSWORD is empty")
                # CREATEROLE: it creates the application role and the rotation's clone (and, from
                # PostgreSQL 16, may manage no role it did not create). Nothing else.
                admin.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
                print(f"migrate: created the owner role {role}", flush=True)
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                # Making another role a database's owner takes membership in it.
                admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
                admin.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(role))
                )
                print(f"migrate: created the database {database}, owned by {role}", flush=True)
            # Only its owner and the roles it grants CONNECT to (the application's) log in to it:
            # no other service's role, on an instance they share.
            admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", (key,))


def app_role_ensure(connection: psycopg.Connection, *, role: str, password: str) -> None:
    """Create `role` (LOGIN) if missing, then grant it row access to the schema's tables, now and
    for every table the owner creates later. Safe to run again."""
    database = connection.info.dbname
    exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if not exists:
        if not password:
            raise SystemExit(f"migrate: role {role} does not exist and DATABASE_APP_PASSWORD is empty")
        connection.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        print(f"migrate: created the application role {role}", flush=True)
    for statement in (
        # Nobody but the owner creates objects in the schema (the default from PostgreSQL 15).
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ):
        connection.execute(sql.SQL(statement).format(database=sql.Identifier(database), role=sql.Identifier(role)))


def databases_ensure(url: str, names: Sequence[str]) -> None:
    """All-in-one: create the databases `names` beside the one at `url`, owned by its user, when
    missing (CREATE DATABASE runs outside a transaction, hence autocommit)."""
    with psycopg.connect(url, autocommit=True) as connection:
        for name in names:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"migrate: created the database {name}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    url = os.environ.get("DATABASE_URL")
    command = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", *extra]
    if not url or not url.startswith(("postgres://", "postgresql://")):
        # All-in-one (SQLite): one process, nothing to serialise.
        os.execvpe(command[0], command, {**os.environ})  # noqa: S606
    admin_url = os.environ.get("DATABASE_ADMIN_URL")
    if admin_url:
        database_provision(admin_url, owner_url=url)
    # All-in-one: every service's alias, on the same server.
    service_urls = [
        os.environ[f"{name.upper()}_DATABASE_URL"]
        for name in SERVICES
        if os.environ.get(f"{name.upper()}_DATABASE_URL")
    ]
    if service_urls:
        databases_ensure(url, [conninfo_to_dict(service_url)["dbname"] for service_url in service_urls])
    status = run_locked(command, url=url, env=os.environ)
    role = os.environ.get("DATABASE_APP_ROLE")
    if status == 0 and role:
        for database_url in (url, *service_urls):
            with psycopg.connect(database_url, autocommit=True) as connection:
                app_role_ensure(connection, role=role, password=os.environ.get("DATABASE_APP_PASSWORD", ""))
        print(f"migrate: {role} granted row access", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
