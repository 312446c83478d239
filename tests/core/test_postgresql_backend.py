"""The project's PostgreSQL backend (apps.core.postgresql): every alias uses it, timestamptz is read
by psycopg's own loader with the same UTC datetimes, and the per-request health check is skipped
only for a connection used in the last DATABASE_HEALTH_CHECK_IDLE_SECONDS; the check itself makes
no span in the request's trace."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from apps.core.tracing import memory_exporter, tracer

pytestmark = pytest.mark.django_db(databases="__all__")


def test_every_postgresql_alias_uses_the_project_backend_with_prepared_statements():
    engines = {alias: config["ENGINE"] for alias, config in settings.DATABASES.items()}

    assert set(engines.values()) == {"apps.core.postgresql"}
    for config in settings.DATABASES.values():
        assert config["OPTIONS"]["server_side_binding"] is True
        assert config["OPTIONS"]["prepare_threshold"] == settings.DATABASE_PREPARE_THRESHOLD


def test_timestamptz_is_read_by_psycopgs_loader_as_utc_datetimes():
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", ["2026-11-30 12:34:56.789+02"])
        (value,) = cursor.fetchone()

    assert value == dt.datetime(2026, 11, 30, 10, 34, 56, 789000, tzinfo=dt.UTC)
    assert value.tzinfo is dt.UTC
    oid = psycopg.postgres.types["timestamptz"].oid
    loader = connection.connection.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
    assert loader is psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)


def _used_connection_counting_checks(monkeypatch, *, idle_seconds: int) -> tuple[object, list[bool]]:
    """The default connection, just used, health checks on, each check recorded instead of run."""
    connection = connections["default"]
    connection.ensure_connection()
    checks: list[bool] = []
    monkeypatch.setattr(connection, "health_check_enabled", True)
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(True) or True)
    monkeypatch.setattr(settings, "DATABASE_HEALTH_CHECK_IDLE_SECONDS", idle_seconds)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection, checks


def test_a_connection_used_recently_skips_the_health_check_and_an_idle_one_is_checked(monkeypatch):
    connection, checks = _used_connection_counting_checks(monkeypatch, idle_seconds=5)

    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert checks == []
    assert connection.health_check_done

    monkeypatch.setattr(connection, "_last_used", time.monotonic() - 6)
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert checks == [True]


def test_with_no_idle_allowance_every_request_is_checked(monkeypatch):
    connection, checks = _used_connection_counting_checks(monkeypatch, idle_seconds=0)

    connection.health_check_done = False
    connection.close_if_health_check_failed()

    assert checks == [True]


def test_the_health_check_makes_no_span_in_the_trace_it_runs_in():
    connection = connections["default"]
    connection.ensure_connection()
    exporter = memory_exporter()
    exporter.clear()

    with tracer().start_as_current_span("request"):
        assert connection.is_usable()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 2")

    statements = [(span.attributes or {}).get("db.statement") for span in exporter.get_finished_spans()]
    assert statements == ["SELECT 2", None]
