"""The relay of a transport that does not run handlers here (SNS in the split shape): sent rows
are marked per batch, and a failure stops the batch there, in order, with the attempt recorded."""

from __future__ import annotations

import pytest
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import InboxEvent, OutboxEvent
from apps.core.db import atomic
from apps.core.events import Envelope, publish, publish_many, statements
from apps.core.events.handlers import _inbox_record
from apps.core.events.outbox import relay_pending
from apps.core.events.transport import _transport
from apps.core.services import db_alias

pytestmark = pytest.mark.django_db(databases="__all__")
sent: list[str] = []


class RecordingTransport:
    """Stands in for SNS: records what is sent, and refuses the SKU named FAIL."""

    def send(self, envelope) -> None:
        if envelope.payload["sku"] == "FAIL":
            raise ConnectionError("topic unreachable")
        sent.append(envelope.payload["sku"])


@pytest.fixture
def recording(settings):
    sent.clear()
    settings.EVENT_TRANSPORT = "tests.core.test_outbox_batches.RecordingTransport"
    yield
    _transport.cache_clear()


def publish_product_updates(*skus: str) -> None:
    """One catalog transaction publishing a product.updated per SKU (test_outbox_background uses it too)."""
    with atomic("catalog"):
        for sku in skus:
            payload = {"sku": sku, "product_id": "p", "product_name": "n", "variant_name": "v"}
            publish(
                producer="catalog",
                event_type="product.updated",
                payload={**payload, "price": "1.00", "currency": "EUR", "active": True},
            )


def test_every_row_of_a_batch_is_sent_in_order_and_marked(recording):
    publish_product_updates(*(f"SKU-{n}" for n in range(5)))

    assert relay_pending("catalog", batch_size=2) == 5
    assert sent == [f"SKU-{n}" for n in range(5)]
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_a_failure_stops_the_batch_there_and_keeps_the_rest_for_the_sweep(recording):
    publish_product_updates("A", "FAIL", "C")

    assert relay_pending("catalog") == 1
    assert sent == ["A"]
    unsent = OutboxEvent.objects.filter(sent_at__isnull=True).order_by("occurred_at")
    assert [(row.payload["sku"], row.attempts) for row in unsent] == [("FAIL", 1), ("C", 0)]
    assert "topic unreachable" in unsent[0].last_error


def _publish_queries(count: int) -> int:
    with atomic("catalog"), CaptureQueriesContext(connections[db_alias("catalog")]) as queries:
        publish_many(
            producer="catalog",
            events=[
                (
                    "product.updated",
                    {"sku": f"SKU-{n}", "product_id": "p", "product_name": "n", "variant_name": "v"}
                    | {"price": "1.00", "currency": "EUR", "active": True},
                )
                for n in range(count)
            ],
        )
    return len(queries)


def test_publishing_and_relaying_many_events_takes_the_same_queries_as_a_few(recording):
    few_publish = _publish_queries(3)
    few_relay = _relay_queries()
    many_publish = _publish_queries(300)
    many_relay = _relay_queries()

    assert many_publish == few_publish
    assert many_relay == few_relay
    assert sent[-300:] == [f"SKU-{n}" for n in range(300)]  # in order


def _relay_queries() -> int:
    with CaptureQueriesContext(connections[db_alias("catalog")]) as queries:
        relay_pending("catalog", batch_size=1000)
    return len(queries)


def test_the_event_statements_are_compiled_once_per_process(recording, monkeypatch):
    """Publishing, relaying and recording a delivery build their SQL on first use only: the
    second round compiles nothing for the outbox or the inbox (apps/core/events/statements.py)."""
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(compiler, *args, **kwargs):
        compiled.append(compiler.query.model._meta.db_table)
        return as_sql(compiler, *args, **kwargs)

    statements.claim_sql.cache_clear()
    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    rounds = []
    for sku in ("FIRST", "SECOND"):
        compiled.clear()
        publish_product_updates(sku)
        assert relay_pending("catalog") == 1
        envelope = Envelope(type="product.updated", producer="catalog", payload={}, trace_id="t")
        with atomic("catalog"):
            assert _inbox_record("catalog", envelope, InboxEvent) is True
            assert _inbox_record("catalog", envelope, InboxEvent) is False  # the duplicate
        rounds.append([table for table in compiled if table in ("catalog_outboxevent", "catalog_inboxevent")])

    assert rounds == [["catalog_outboxevent"], []]  # the claim, once
    assert sent == ["FIRST", "SECOND"]
    row = OutboxEvent.objects.get(payload__sku="SECOND")
    assert row.sent_at is not None and row.attempts == 1 and row.last_error == "" and row.traceparent == ""
    assert InboxEvent.objects.filter(event_type="product.updated", producer="catalog").count() == 2


def test_a_relay_pass_claims_and_marks_its_rows_in_one_statement(recording):
    """The claim locks the unsent rows and marks them sent in one UPDATE ... RETURNING, inside the
    transaction that commits only once they are sent: no separate SELECT and UPDATE."""
    publish_product_updates("A", "B", "C")

    with CaptureQueriesContext(connections[db_alias("catalog")]) as queries:
        assert relay_pending("catalog") == 3

    outbox_statements = [q["sql"] for q in queries.captured_queries if "catalog_outboxevent" in q["sql"]]
    assert len(outbox_statements) == 1
    assert outbox_statements[0].startswith("UPDATE") and "RETURNING" in outbox_statements[0]
    assert sent == ["A", "B", "C"]
    assert set(OutboxEvent.objects.values_list("attempts", flat=True)) == {1}


class RelayDied(BaseException):
    """The relay's process ending mid-publish (not an error the relay catches)."""


class DyingTransport:
    def send(self, envelope) -> None:
        raise RelayDied


def test_a_relay_that_dies_while_publishing_leaves_its_rows_unsent(settings):
    """The claim's mark is the claim's transaction's: if the relay never gets past the publish,
    the rows stay unsent, with no attempt counted, for the sweep."""
    settings.EVENT_TRANSPORT = "tests.core.test_outbox_batches.DyingTransport"
    try:
        publish_product_updates("A", "B")
        with pytest.raises(RelayDied):
            relay_pending("catalog")
    finally:
        _transport.cache_clear()

    assert list(OutboxEvent.objects.filter(sent_at__isnull=True).values_list("attempts", flat=True)) == [0, 0]
