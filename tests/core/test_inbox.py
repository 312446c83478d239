"""The inbox records a delivered event with one statement: a first delivery runs the handler, a
duplicate is skipped, and no savepoint is spent on telling them apart."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import InboxEvent
from apps.core.events import Envelope
from apps.core.events.handlers import deliver
from apps.core.services import db_alias

pytestmark = pytest.mark.django_db(databases="__all__")


def _staff_changed(username: str) -> Envelope:
    payload = {
        "username": username,
        "email": f"{username}@example.com",
        "first_name": "S",
        "last_name": "T",
        "password": "!unusable",
        "is_active": True,
        "is_staff": True,
        "is_superuser": False,
        "groups": [],
    }
    return Envelope(type="staff.changed", producer="users", payload=payload, trace_id=uuid.uuid4().hex)


def test_a_first_delivery_runs_the_handler_and_a_duplicate_is_skipped_without_a_savepoint():
    envelope = _staff_changed("inbox-once")
    with CaptureQueriesContext(connections[db_alias("catalog")]) as first:
        assert deliver("catalog", envelope) is True
    with CaptureQueriesContext(connections[db_alias("catalog")]) as second:
        assert deliver("catalog", envelope) is False

    assert InboxEvent.objects.filter(event_id=envelope.id).count() == 1
    statements = [query["sql"].upper() for query in first.captured_queries + second.captured_queries]
    # The test's own transaction makes each delivery's atomic block a savepoint; the inbox adds none.
    assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 2
    assert not any(sql.startswith("ROLLBACK TO SAVEPOINT") for sql in statements)
    assert len(second.captured_queries) == 3  # savepoint, the insert that inserts nothing, release
