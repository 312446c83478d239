"""The split shape against PostgreSQL: SERVICE selects one service's apps, URLs and tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# One set of databases per xdist worker: with one name for all, one worker's DROP DATABASE ... WITH
# (FORCE) ends the other's migrate halfway (as tests/messaging/conftest.py does for its stack).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PREFIX = os.environ.get("TEST_DB_PREFIX", "shopstack") + "_shape" + (f"_{_WORKER}" if _WORKER else "")


def _database_url(service: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + f"/{PREFIX}_{service}"


def _manage(*args: str, service: str | None, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "SERVICE"}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings.local", **env})
    if service:
        environment.update(SERVICE=service, DATABASE_URL=_database_url(service))
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def _tables(service: str) -> set[str]:
    with psycopg.connect(_database_url(service)) as connection:
        rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {name for (name,) in rows}


@pytest.fixture(scope="module")
def migrated_databases():
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        for service in ("users", "catalog"):
            connection.execute(f'DROP DATABASE IF EXISTS "{PREFIX}_{service}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{PREFIX}_{service}"')
    for service in ("users", "catalog"):
        result = _manage("migrate", "--noinput", service=service)
        assert result.returncode == 0, result.stderr
    yield
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        for service in ("users", "catalog"):
            connection.execute(f'DROP DATABASE IF EXISTS "{PREFIX}_{service}" WITH (FORCE)')


def test_each_service_database_holds_only_its_own_tables(migrated_databases):
    catalog, users = _tables("catalog"), _tables("users")
    assert any(name.startswith("catalog_") for name in catalog)
    assert any(name.startswith("users_") for name in users)
    assert not any(name.startswith("users_") for name in catalog)
    assert not any(name.startswith(("catalog_", "orders_", "payments_", "notifications_")) for name in users)
    # Django's own apps (staff accounts for each admin) live in every service's database.
    assert {"auth_user", "django_admin_log", "django_session"} <= catalog & users


def test_only_the_selected_service_is_served(migrated_databases):
    script = """
from django.test import Client
client = Client()
for path in ("/api/v1/users/schema/", "/api/v1/catalog/schema/", "/admin/catalog/login/", "/admin/login/"):
    print(path, client.get(path).status_code)
"""
    result = _manage("shell", "-c", script, service="catalog")
    assert result.returncode == 0, result.stderr
    statuses = dict(line.split() for line in result.stdout.strip().splitlines() if line.startswith("/"))
    assert statuses == {
        "/api/v1/users/schema/": "404",
        "/api/v1/catalog/schema/": "200",
        "/admin/catalog/login/": "200",
        "/admin/login/": "404",
    }


def test_an_unknown_service_stops_with_a_clear_message():
    result = _manage("check", service=None, SERVICE="inventory")
    assert result.returncode != 0
    assert "SERVICE='inventory' is not a ShopStack service" in result.stderr
    assert "users, catalog, orders, payments, notifications" in result.stderr


def test_production_refuses_insecure_defaults():
    result = _manage(
        "check", service=None, DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_SECRET_KEY="short"
    )
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    for problem in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL must point at PostgreSQL"):
        assert problem in result.stderr


def test_staff_sign_in_to_another_admin_with_their_password_from_the_replicated_account(migrated_databases):
    # Users makes a staff account; its staff.changed, as users' outbox holds it, is all catalog
    # gets of it. Catalog's process has no way to reach users: its admin's own sign-in form must
    # work from the replica alone (docs/architecture.md, "When users is down"), which is why
    # staff.changed carries the password hash and the hand-off alone would not do.
    made = _manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import User\n"
        "User.objects.create_user('clerk', 'clerk@example.com', 'pw-staff-12345', is_staff=True)",
        service="users",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",  # the relay fails at once; the row stays in the outbox
    )
    assert made.returncode == 0, made.stderr
    with psycopg.connect(_database_url("users")) as connection:
        [row] = connection.execute(
            "SELECT id, version, occurred_at, trace_id, payload FROM users_outboxevent WHERE event_type = %s",
            ["staff.changed"],
        ).fetchall()
    event_id, version, occurred_at, trace_id, payload = row
    assert payload["username"] == "clerk"
    envelope = {
        "id": str(event_id),
        "type": "staff.changed",
        "version": version,
        "occurred_at": occurred_at.isoformat(),
        "producer": "users",
        "trace_id": trace_id,
        "payload": payload,
    }
    script = f"""
from django.test import Client
from apps.core.events import Envelope
from apps.core.events.handlers import deliver
deliver("catalog", Envelope.from_dict({envelope!r}))
client = Client()
login = "/admin/catalog/login/"
wrong = client.post(login, {{"username": "clerk", "password": "not-the-password", "next": "/admin/catalog/"}})
print("wrong", wrong.status_code)
right = client.post(login, {{"username": "clerk", "password": "pw-staff-12345", "next": "/admin/catalog/"}})
print("right", right.status_code, right.get("Location"))
print("index", client.get("/admin/catalog/").status_code)
"""
    result = _manage("shell", "-c", script, service="catalog")
    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines() if line.startswith(("wrong", "right", "index"))]
    assert answers == ["wrong 200", "right 302 /admin/catalog/", "index 200"]
