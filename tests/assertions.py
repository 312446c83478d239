"""Assertions every service's tests share: problem bodies and a service's outbox events."""

from __future__ import annotations

from django.apps import apps


def assert_problem(response, *, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


def outbox_payloads(service: str, event_type: str) -> list[dict]:
    """Payloads of a service's outbox rows of one type, oldest first."""
    outbox = apps.get_model(service, "OutboxEvent")
    return list(outbox.objects.filter(event_type=event_type).order_by("occurred_at").values_list("payload", flat=True))
