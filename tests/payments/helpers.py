"""Assertions the payments tests share: outbox events and problem bodies."""

from __future__ import annotations

from apps.payments.models import OutboxEvent


def events(event_type: str) -> list[dict]:
    """Payloads of payments' outbox rows of one type, oldest first."""
    rows = OutboxEvent.objects.filter(event_type=event_type).order_by("occurred_at")
    return list(rows.values_list("payload", flat=True))


def all_event_types() -> list[str]:
    return list(OutboxEvent.objects.order_by("occurred_at").values_list("event_type", flat=True))


def assert_problem(response, *, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body
