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

Migrations run as the database's owner (the RDS master user). The application connects as its own
role, DATABASE_APP_ROLE, which may read and write rows and nothing more (no DDL, no other
database). After a successful migrate this step creates that role when it is missing (with
DATABASE_APP_PASSWORD, the app secret's first password) and grants it, idempotently. It never
changes an existing role's password: Secrets Manager's rotation owns it (alternating users: the
rotation creates `<role>_clone` as a member of the role, so both inherit these grants).
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

ROOT = Path(__file__).resolve().parent.parent
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


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    url = os.environ.get("DATABASE_URL")
    command = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", *extra]
    if not url or not url.startswith(("postgres://", "postgresql://")):
        # All-in-one (SQLite): one process, nothing to serialise.
        os.execvpe(command[0], command, {**os.environ})  # noqa: S606
    status = run_locked(command, url=url, env=os.environ)
    role = os.environ.get("DATABASE_APP_ROLE")
    if status == 0 and role:
        with psycopg.connect(url, autocommit=True) as connection:
            app_role_ensure(connection, role=role, password=os.environ.get("DATABASE_APP_PASSWORD", ""))
        print(f"migrate: {role} granted row access", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
