"""Assertions the payments tests share: outbox events and problem bodies."""

from __future__ import annotations

from functools import partial

from apps.payments.models import OutboxEvent
from tests.assertions import assert_problem, outbox_payloads

events = partial(outbox_payloads, "payments")


def all_event_types() -> list[str]:
    return list(OutboxEvent.objects.order_by("occurred_at").values_list("event_type", flat=True))


__all__ = ["all_event_types", "assert_problem", "events"]
