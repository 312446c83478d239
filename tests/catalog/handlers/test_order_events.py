"""order.created / order.cancelled / order.confirmed / refund.requested / order.lines_returned /
order.lines_cancelled reach catalog's handlers through the inbox: a redelivered event has no second
effect, and a new event for a handled order (or refund, return, cancellation) none either."""

from __future__ import annotations

import uuid
from dataclasses import asdict

import pytest

from apps.catalog.models import Stock, StockAdjustment
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver
from apps.orders.contracts import events as orders
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def _envelope(event_type: str, payload) -> Envelope:
    return Envelope(type=event_type, producer="orders", payload=asdict(payload), trace_id="trace-1")


def _created(order_id: str, lines) -> Envelope:
    return _envelope(
        orders.ORDER_CREATED,
        orders.OrderCreated(
            order_id=order_id,
            order_number="SO-1",
            customer_id=str(uuid.uuid4()),
            lines=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in lines],
        ),
    )


def _cancelled(order_id: str) -> Envelope:
    return _envelope(
        orders.ORDER_CANCELLED,
        orders.OrderCancelled(
            order_id=order_id,
            order_number="SO-1",
            customer_id="c",
            email="a@example.com",
            reason="payment failed",
            lines=[],
        ),
    )


def _confirmed(order_id: str) -> Envelope:
    return _envelope(
        orders.ORDER_CONFIRMED,
        orders.OrderConfirmed(
            order_id=order_id,
            order_number="SO-1",
            customer_id="c",
            email="a@example.com",
            total="10.00",
            currency="EUR",
            lines=[],
        ),
    )


def _refund_requested(order_id: str, refund_id: str, restock) -> Envelope:
    return _envelope(
        orders.REFUND_REQUESTED,
        orders.RefundRequested(
            order_id=order_id,
            order_number="SO-1",
            refund_id=refund_id,
            amount="10.00",
            currency="EUR",
            reason="damaged",
            restock=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in restock],
        ),
    )


def _stock(sku: str) -> tuple[int, int]:
    stock = Stock.objects.get(variant__sku=sku)
    return stock.on_hand, stock.reserved


def test_order_created_reserves_and_a_redelivery_does_nothing():
    factories.variant(sku="A", on_hand=3)
    order_id = str(uuid.uuid4())
    envelope = _created(order_id, [("A", 2)])

    assert deliver("catalog", envelope) is True
    assert deliver("catalog", envelope) is False  # same event id: the inbox drops it
    assert deliver("catalog", _created(order_id, [("A", 2)])) is True  # new id, same order: no effect

    assert _stock("A") == (3, 2)
    assert len(events("stock.reserved")) == 1


def test_order_created_for_too_many_units_is_rejected():
    factories.variant(sku="A", on_hand=1)
    order_id = str(uuid.uuid4())

    deliver("catalog", _created(order_id, [("A", 2)]))

    assert events("stock.rejected") == [{"order_id": order_id, "short": [{"sku": "A", "requested": 2, "available": 1}]}]


def test_cancelled_releases_and_confirmed_commits():
    factories.variant(sku="A", on_hand=5)
    cancelled, confirmed = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("catalog", _created(cancelled, [("A", 1)]))
    deliver("catalog", _created(confirmed, [("A", 2)]))

    deliver("catalog", _cancelled(cancelled))
    deliver("catalog", _confirmed(confirmed))
    deliver("catalog", _confirmed(confirmed))

    assert _stock("A") == (3, 0)


def test_refund_requested_restocks_its_lines_once_per_refund():
    factories.variant(sku="A", on_hand=5)
    order_id, refund_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("catalog", _created(order_id, [("A", 2)]))
    deliver("catalog", _confirmed(order_id))
    envelope = _refund_requested(order_id, refund_id, [("A", 1)])

    assert deliver("catalog", envelope) is True
    assert deliver("catalog", envelope) is False  # same event id: the inbox drops it
    assert deliver("catalog", _refund_requested(order_id, refund_id, [("A", 1)])) is True  # same refund: no effect

    assert _stock("A") == (4, 0)
    assert StockAdjustment.objects.get().refund_id == uuid.UUID(refund_id)


def test_refund_requested_without_restock_lines_leaves_stock_alone():
    factories.variant(sku="A", on_hand=5)
    order_id = str(uuid.uuid4())
    deliver("catalog", _created(order_id, [("A", 2)]))
    deliver("catalog", _confirmed(order_id))

    assert deliver("catalog", _refund_requested(order_id, str(uuid.uuid4()), [])) is True

    assert _stock("A") == (3, 0)
    assert not StockAdjustment.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "not-a-uuid", "refund_id": str(uuid.uuid4()), "restock": [{"sku": "A", "quantity": 1}]},
        {"order_id": str(uuid.uuid4()), "refund_id": "", "restock": [{"sku": "A", "quantity": 1}]},
        {"order_id": str(uuid.uuid4()), "refund_id": str(uuid.uuid4()), "restock": [{"sku": "A"}]},
    ],
)
def test_an_unusable_refund_requested_is_dropped_not_raised(payload):
    factories.variant(sku="A", on_hand=5)
    envelope = Envelope(type=orders.REFUND_REQUESTED, producer="orders", payload=payload, trace_id="trace-1")

    assert deliver("catalog", envelope) is True

    assert _stock("A") == (5, 0)


def _lines_returned(order_id: str, return_id: str, lines, restock) -> Envelope:
    return _envelope(
        orders.ORDER_LINES_RETURNED,
        orders.OrderLinesReturned(
            order_id=order_id,
            order_number="SO-1",
            return_id=return_id,
            parcel_number=1,
            lines=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in lines],
            restock=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in restock],
        ),
    )


def test_order_lines_returned_restocks_what_goes_back_once_per_return():
    factories.variant(sku="A", on_hand=5)
    factories.variant(sku="B", on_hand=5)
    order_id, return_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("catalog", _created(order_id, [("A", 2), ("B", 1)]))
    deliver("catalog", _confirmed(order_id))
    # Both lines came back; B was damaged and stays out of stock.
    envelope = _lines_returned(order_id, return_id, lines=[("A", 2), ("B", 1)], restock=[("A", 2)])

    assert deliver("catalog", envelope) is True
    assert deliver("catalog", envelope) is False  # same event id: the inbox drops it
    assert deliver("catalog", _lines_returned(order_id, return_id, [("A", 2)], [("A", 2)])) is True  # no effect

    assert (_stock("A"), _stock("B")) == ((5, 0), (4, 0))
    restock = StockAdjustment.objects.get()
    assert (restock.sku, restock.delta, restock.refund_id) == ("A", 2, uuid.UUID(return_id))
    assert restock.reason == f"return {return_id} of order SO-1"


def test_order_lines_returned_with_nothing_to_restock_leaves_stock_alone():
    factories.variant(sku="A", on_hand=5)
    order_id = str(uuid.uuid4())
    deliver("catalog", _created(order_id, [("A", 2)]))
    deliver("catalog", _confirmed(order_id))

    assert deliver("catalog", _lines_returned(order_id, str(uuid.uuid4()), [("A", 1)], [])) is True

    assert _stock("A") == (3, 0)
    assert not StockAdjustment.objects.exists()


def test_order_lines_cancelled_restocks_with_an_audit_naming_the_cancellation():
    factories.variant(sku="A", on_hand=5)
    order_id, cancellation_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("catalog", _created(order_id, [("A", 2)]))
    deliver("catalog", _confirmed(order_id))
    envelope = _envelope(
        orders.ORDER_LINES_CANCELLED,
        orders.OrderLinesCancelled(
            order_id=order_id,
            order_number="SO-1",
            cancellation_id=cancellation_id,
            lines=[orders.OrderLine(sku="A", quantity=2)],
        ),
    )

    deliver("catalog", envelope)

    assert _stock("A") == (5, 0)
    assert StockAdjustment.objects.get().reason == f"cancellation {cancellation_id} of order SO-1"


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "not-a-uuid", "return_id": str(uuid.uuid4()), "restock": [{"sku": "A", "quantity": 1}]},
        {"order_id": str(uuid.uuid4()), "restock": [{"sku": "A", "quantity": 1}]},
        {"order_id": str(uuid.uuid4()), "return_id": str(uuid.uuid4()), "restock": [{"sku": "A", "quantity": "x"}]},
    ],
)
def test_an_unusable_order_lines_returned_is_dropped_not_raised(payload, caplog):
    factories.variant(sku="A", on_hand=5)
    envelope = Envelope(type=orders.ORDER_LINES_RETURNED, producer="orders", payload=payload, trace_id="trace-1")

    assert deliver("catalog", envelope) is True

    assert _stock("A") == (5, 0)
    assert "order.lines_returned" in caplog.text and "unusable payload ignored" in caplog.text
