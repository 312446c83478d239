"""The outbox and idempotent delivery in the all-in-one shape (in-process transport)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.core.context import bound
from apps.core.db import atomic
from apps.core.events import publish
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import UndeclaredEventError, UnsupportedEventVersionError, deliver, event_handler
from apps.core.events.outbox import OutboxUsageError, relay_pending
from apps.users.models import OutboxEvent as UsersOutbox

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
SUBSCRIBERS = ("catalog", "orders", "payments", "notifications")


def _staff(username: str, **overrides) -> dict:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "first_name": "Staff",
        "last_name": username,
        "password": "!unusable",
        "is_active": True,
        "is_staff": True,
        "is_superuser": False,
        "groups": ["support"],
        **overrides,
    }


def _inbox_count(service: str, event_id) -> int:
    from django.apps import apps

    return apps.get_model(service, "InboxEvent").objects.filter(event_id=event_id).count()


def test_an_event_is_written_with_the_change_and_delivered_after_commit():
    with bound(trace_id="trace-in-process"), atomic("users"):
        envelope = publish(producer="users", event_type="staff.changed", payload=_staff("dana"))
        assert UsersOutbox.objects.get(id=envelope.id).sent_at is None  # not before commit

    row = UsersOutbox.objects.get(id=envelope.id)
    assert row.sent_at is not None and row.trace_id == "trace-in-process"
    assert get_user_model().objects.filter(username="dana", is_staff=True).exists()
    assert [_inbox_count(service, envelope.id) for service in SUBSCRIBERS] == [1, 1, 1, 1]
    assert _inbox_count("users", envelope.id) == 0  # users does not subscribe to it


def test_a_rolled_back_change_publishes_nothing():
    with pytest.raises(RuntimeError), atomic("users"):
        publish(producer="users", event_type="staff.changed", payload=_staff("erin"))
        raise RuntimeError("the change failed")
    assert not UsersOutbox.objects.exists()


def test_a_redelivered_event_has_no_second_effect():
    with atomic("users"):
        envelope = publish(producer="users", event_type="staff.changed", payload=_staff("fred"))
    assert deliver("catalog", envelope) is False
    assert _inbox_count("catalog", envelope.id) == 1


def test_a_failing_delivery_stays_in_the_outbox_and_the_sweep_sends_it_later():
    with atomic("users"):
        poison = publish(producer="users", event_type="staff.changed", payload={"username": "gina"})
    row = UsersOutbox.objects.get(id=poison.id)
    assert row.sent_at is None and row.attempts == 1 and "KeyError" in row.last_error
    # A handler that failed rolled back its inbox row too, so the retry runs it from scratch.
    assert _inbox_count("catalog", poison.id) == 0

    UsersOutbox.objects.filter(id=poison.id).update(payload=_staff("gina"))  # the bug is fixed
    assert relay_pending("users") == 1
    assert get_user_model().objects.filter(username="gina").exists()


def test_an_event_version_the_handler_does_not_read_is_refused_with_no_effect():
    # Given staff.changed in version 2 (a newer producer); catalog's handler reads version 1
    envelope = Envelope(type="staff.changed", producer="users", version=2, trace_id="t", payload=_staff("ivy"))

    # Then the delivery fails (the message goes back to the queue) and nothing was applied
    with pytest.raises(UnsupportedEventVersionError, match="not 2"):
        deliver("catalog", envelope)
    assert _inbox_count("catalog", envelope.id) == 0
    assert not get_user_model().objects.filter(username="ivy").exists()


def test_publish_outside_a_transaction_is_refused():
    with pytest.raises(OutboxUsageError, match="inside the transaction"):
        publish(producer="users", event_type="staff.changed", payload=_staff("hal"))


def test_undeclared_event_types_are_refused_both_ways():
    with pytest.raises(OutboxUsageError, match="PUBLISHES"), atomic("users"):
        publish(producer="users", event_type="order.created", payload={})
    with pytest.raises(UndeclaredEventError, match="SUBSCRIBES"):
        event_handler("catalog", "user.registered")(lambda envelope: None)


def test_handlers_run_while_the_producer_holds_no_transaction(monkeypatch):
    # A relay holding users' write lock while catalog's handler waits for catalog's would
    # deadlock with a catalog relay delivering to users (SQLite locks a whole database file).
    from django.db import connections

    from apps.core.events import handlers

    producer_in_transaction = []
    monkeypatch.setitem(
        handlers._handlers,
        ("catalog", "staff.changed"),
        lambda envelope: producer_in_transaction.append(connections["users"].in_atomic_block),
    )

    with atomic("users"):
        envelope = publish(producer="users", event_type="staff.changed", payload=_staff("lock-free"))

    assert producer_in_transaction == [False]
    assert UsersOutbox.objects.get(id=envelope.id).sent_at is not None
