"""Assertions the catalog tests share: problem bodies and outbox events."""

from __future__ import annotations

from apps.catalog.models import OutboxEvent


def events(event_type: str) -> list[dict]:
    """Payloads of the outbox rows of one type, oldest first."""
    return list(
        OutboxEvent.objects.filter(event_type=event_type).order_by("occurred_at").values_list("payload", flat=True)
    )


def assert_problem(response, *, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body
