"""deploy/migrate.py, the migrate role, against the real PostgreSQL server: one migration at a time
(a session advisory lock), and lock and statement timeouts on the migration's own connections."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.deploy.templates import ROOT

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import migrate
finally:
    sys.path.remove(str(ROOT / "deploy"))

URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def key() -> int:
    # A key of this test alone: other runs share the server.
    return secrets.randbits(62)


def _report_settings(path: Path) -> list[str]:
    # The "migration": a connection of its own reports the timeouts it got.
    code = (
        "import psycopg, sys\n"
        "with psycopg.connect(sys.argv[1]) as c:\n"
        "    values = [c.execute(f'SHOW {name}').fetchone()[0] for name in ('lock_timeout', 'statement_timeout')]\n"
        "open(sys.argv[2], 'w').write(' '.join(values))\n"
    )
    return [sys.executable, "-c", code, URL, str(path)]


def test_the_migration_gets_lock_and_statement_timeouts(tmp_path, key):
    report = tmp_path / "settings"
    assert migrate.run_locked(_report_settings(report), url=URL, env=dict(os.environ), key=key) == 0
    assert report.read_text() == "5s 30min"


def test_timeouts_can_be_set(tmp_path, key):
    report = tmp_path / "settings"
    env = {**os.environ, "MIGRATION_LOCK_TIMEOUT": "2s", "MIGRATION_STATEMENT_TIMEOUT": "1h"}
    assert migrate.run_locked(_report_settings(report), url=URL, env=env, key=key) == 0
    assert report.read_text() == "2s 1h"


def test_a_second_migration_waits_for_the_first(tmp_path, key):
    report = tmp_path / "settings"
    # The second migration is a process of its own, as a second task would be.
    code = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'deploy')!r})\n"
        "import migrate\n"
        "sys.exit(migrate.run_locked(sys.argv[3:], url=sys.argv[1], env=dict(os.environ), key=int(sys.argv[2])))\n"
    )
    with psycopg.connect(URL, autocommit=True) as first:
        first.execute("SELECT pg_advisory_lock(%s)", (key,))
        second = subprocess.Popen([sys.executable, "-c", code, URL, str(key), *_report_settings(report)])
        try:
            time.sleep(2)
            assert second.poll() is None and not report.exists()  # still waiting for the lock
        finally:
            first.execute("SELECT pg_advisory_unlock(%s)", (key,))
        assert second.wait(timeout=30) == 0
    assert report.read_text() == "5s 30min"


def test_the_lock_is_released_when_the_migration_fails(key):
    assert (
        migrate.run_locked([sys.executable, "-c", "raise SystemExit(3)"], url=URL, env=dict(os.environ), key=key) == 3
    )
    with psycopg.connect(URL, autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0] is True
        other.execute("SELECT pg_advisory_unlock(%s)", (key,))
