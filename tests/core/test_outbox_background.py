"""The split shape's after-commit relay runs on the process's relay thread: the transaction that
published returns without waiting for the broker, commits that arrive while the thread sends share
its next pass, and a pass hands a batch transport (SNS PublishBatch) several events at once."""

from __future__ import annotations

import threading
import time

import pytest

from apps.catalog.models import OutboxEvent
from apps.core.events.outbox import background_relay
from apps.core.events.transport import _transport
from tests.core.test_outbox_batches import publish_product_updates

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


class GatedBatchTransport:
    """Stands in for SNS: each send_many waits for `gate`, then records the SKUs it was given."""

    batch_size = 10
    gate = threading.Event()
    calls: list[list[str]] = []
    entered = threading.Event()

    def send(self, envelope) -> None:
        self.send_many([envelope])

    def send_many(self, envelopes) -> list[Exception | None]:
        self.entered.set()
        assert self.gate.wait(timeout=30)
        self.calls.append([envelope.payload["sku"] for envelope in envelopes])
        return [None] * len(envelopes)


@pytest.fixture
def gated(settings):
    settings.EVENT_TRANSPORT = "tests.core.test_outbox_background.GatedBatchTransport"
    settings.EVENTS_RELAY_IN_BACKGROUND = True
    GatedBatchTransport.calls = []
    GatedBatchTransport.gate.clear()
    GatedBatchTransport.entered.clear()
    yield GatedBatchTransport
    GatedBatchTransport.gate.set()
    assert background_relay.stop(timeout=10)  # and its connections closed, before the test database goes
    _transport.cache_clear()


def test_the_committing_thread_does_not_wait_for_the_broker(gated):
    started = time.monotonic()
    publish_product_updates("A")
    assert gated.entered.wait(timeout=10)  # the relay thread is sending, and held there...
    assert time.monotonic() - started < 5  # ...while the commit has long returned
    assert OutboxEvent.objects.get().sent_at is None

    gated.gate.set()
    assert background_relay.drain(timeout=10)
    assert gated.calls == [["A"]]
    assert OutboxEvent.objects.get().sent_at is not None


def test_commits_made_while_the_thread_sends_share_its_next_pass(gated):
    publish_product_updates("A")
    assert gated.entered.wait(timeout=10)
    for sku in ("B", "C", "D"):  # three transactions while the first pass waits on the broker
        publish_product_updates(sku)
    gated.gate.set()
    assert background_relay.drain(timeout=10)

    assert gated.calls == [["A"], ["B", "C", "D"]]  # one call for the three, in order
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def test_in_line_when_not_in_the_background(gated, settings):
    settings.EVENTS_RELAY_IN_BACKGROUND = False
    gated.gate.set()
    publish_product_updates("A", "B")
    assert gated.calls == [["A", "B"]]  # sent before the commit returned, in one call


def test_publish_batches_keep_to_snss_limits():
    from apps.core.events.sns import PUBLISH_BATCH_BYTES, _batches

    def entry(size: int) -> dict:
        return {"Message": "x" * size, "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": "e"}}}

    assert [len(batch) for batch in _batches([entry(10) for _ in range(23)])] == [10, 10, 3]
    big = PUBLISH_BATCH_BYTES // 3
    assert [len(batch) for batch in _batches([entry(big) for _ in range(5)])] == [2, 2, 1]
    # One message at the limit on its own is still sent (SNS refuses it if it is too large).
    assert [len(batch) for batch in _batches([entry(PUBLISH_BATCH_BYTES), entry(1)])] == [1, 1]
