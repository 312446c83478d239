"""Health endpoints and the request id every response and log line carries."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from apps.core import health
from apps.core.logging import ContextFilter, JSONFormatter


@pytest.mark.django_db(databases="__all__")
def test_readiness_checks_every_database(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {"database:default", "database:users", "database:catalog"} <= set(checks)
    assert set(checks.values()) == {"ok"}


@pytest.mark.django_db(databases="__all__")
def test_readiness_fails_while_a_database_misses_a_migration(client, monkeypatch):
    # given orders' database without its latest migration (as after a plain migrate of `default`)
    monkeypatch.setattr(health, "_migrated", set())
    recorder = MigrationRecorder(connections["orders"])
    latest = recorder.migration_qs.filter(app="orders").order_by("-applied").first()
    recorder.record_unapplied(latest.app, latest.name)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"]["database:orders"] == "unmigrated"
    assert response.json()["checks"]["database:catalog"] == "ok"


def test_liveness_answers_a_load_balancer_probing_by_ip(client):
    # ALLOWED_HOSTS does not list the task's IP; health checks must answer anyway.
    response = client.get("/health/live", HTTP_HOST="10.0.3.17:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_other_paths_still_validate_the_host(client):
    assert client.get("/api/v1/catalog/schema/", HTTP_HOST="10.0.3.17").status_code == 400


def test_the_request_id_is_taken_from_the_caller_and_returned(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="req-123")
    assert response["X-Request-ID"] == "req-123"


def test_a_request_id_is_generated_when_missing_or_unsafe(client):
    generated = client.get("/health/live")["X-Request-ID"]
    unsafe = client.get("/health/live", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"]
    assert len(generated) == 32 and len(unsafe) == 32 and generated != unsafe


TRACE_ID = "6b0d35a03c205d2684d2c15025ee9e80"


def test_json_logs_carry_request_and_trace_ids(client):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("shopstack.request")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        # Health checks are not traced: the caller's X-Trace-ID is the trace id.
        client.get("/health/live", HTTP_X_REQUEST_ID="req-log", HTTP_X_TRACE_ID="trace-log")
        # A traced request continues the caller's W3C trace (X-Trace-ID counts only untraced).
        client.get(
            "/no/such/page/",
            HTTP_X_REQUEST_ID="req-log-2",
            HTTP_X_TRACE_ID="trace-log",
            HTTP_TRACEPARENT=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    health, page = (json.loads(JSONFormatter().format(record)) for record in records[-2:])
    assert health["request_id"] == "req-log" and health["trace_id"] == "trace-log"
    assert page["request_id"] == "req-log-2" and page["trace_id"] == TRACE_ID
    assert page["status"] == 404 and page["path"] == "/no/such/page/"
