"""Retention of event rows: the periodic task prunes sent outbox rows after OUTBOX_RETENTION_DAYS
and inbox rows after INBOX_RETENTION_DAYS in every service, in batches, and never an unsent row;
the inbox must outlive every redelivery (system check core.E003)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.test import override_settings
from django.utils import timezone

from apps.core.checks import check_event_retention
from apps.core.events.retention import events_prune
from apps.core.tasks import prune_events

pytestmark = pytest.mark.django_db(databases="__all__")
SERVICES = ("users", "catalog", "orders", "payments", "notifications")


def _outbox(service: str, *, age_days: float, sent: bool):
    moment = timezone.now() - timedelta(days=age_days)
    return apps.get_model(service, "OutboxEvent").objects.create(
        event_type="staff.changed",
        payload={"email": "someone@example.com"},
        trace_id="t",
        occurred_at=moment,
        sent_at=moment if sent else None,
    )


def _inbox(service: str, *, age_days: float):
    row = apps.get_model(service, "InboxEvent").objects.create(
        event_id=uuid.uuid4(), event_type="staff.changed", producer="users"
    )
    # received_at is auto_now_add: age it the way time would.
    type(row).objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(days=age_days))
    return row


def _ids(service: str, model: str) -> set:
    return set(apps.get_model(service, model).objects.values_list("pk", flat=True))


@override_settings(OUTBOX_RETENTION_DAYS=7, INBOX_RETENTION_DAYS=30)
def test_the_periodic_task_prunes_old_sent_outbox_and_inbox_rows_in_every_service():
    kept = {}
    for service in SERVICES:
        _outbox(service, age_days=8, sent=True)
        recent = _outbox(service, age_days=6, sent=True)
        unsent = _outbox(service, age_days=40, sent=False)  # the relay still owes it
        _inbox(service, age_days=31)
        young = _inbox(service, age_days=29)
        kept[service] = ({recent.pk, unsent.pk}, {young.pk})

    prune_events.apply()

    for service in SERVICES:
        assert (_ids(service, "OutboxEvent"), _ids(service, "InboxEvent")) == kept[service], service


@override_settings(OUTBOX_RETENTION_DAYS=7, INBOX_RETENTION_DAYS=30)
def test_pruning_goes_in_batches_until_nothing_old_is_left():
    for _ in range(5):
        _outbox("orders", age_days=10, sent=True)
        _inbox("orders", age_days=40)

    pruned = events_prune(service="orders", batch_size=2)

    assert (pruned.outbox, pruned.inbox) == (5, 5)
    assert _ids("orders", "OutboxEvent") == _ids("orders", "InboxEvent") == set()


@pytest.mark.parametrize(("inbox_days", "outbox_days"), [(14, 7), (30, 30)])
def test_an_inbox_retention_shorter_than_a_redelivery_window_is_refused(inbox_days, outbox_days):
    with override_settings(INBOX_RETENTION_DAYS=inbox_days, OUTBOX_RETENTION_DAYS=outbox_days):
        assert [error.id for error in check_event_retention()] == ["core.E003"]
    assert check_event_retention() == []
