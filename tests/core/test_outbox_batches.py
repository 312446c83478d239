"""The relay of a transport that does not run handlers here (SNS in the split shape): sent rows
are marked per batch, and a failure stops the batch there, in order, with the attempt recorded."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import OutboxEvent
from apps.core.db import atomic
from apps.core.events import publish, publish_many
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
