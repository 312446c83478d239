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


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    url = os.environ.get("DATABASE_URL")
    command = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", *extra]
    if not url or not url.startswith(("postgres://", "postgresql://")):
        # All-in-one (SQLite): one process, nothing to serialise.
        os.execvpe(command[0], command, {**os.environ})  # noqa: S606
    return run_locked(command, url=url, env=os.environ)


if __name__ == "__main__":
    sys.exit(main())
