"""Returns per parcel line: staff record units a parcel shipped (less what came back before) with a
reason and, per line, whether they go back in stock (order.lines_returned for catalog); the refund
of their share, if asked for, is a refund by line without restock (refused, with the return,
while capture at shipment has taken nothing yet). Refusals change nothing, and the same return
recorded twice (sequentially or concurrently) is recorded once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from apps.core.exceptions import ValidationFailed
from apps.orders.errors import InvalidRefund, InvalidReturn, RefundNotAllowed, RefundTooLarge
from apps.orders.models import Order, OrderStatus, OutboxEvent, ParcelReturn, PaymentStatus, Refund, ShipmentLine
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.returns import return_preview, return_record
from apps.orders.services.shipments import shipment_create
from tests.orders import factories
from tests.orders.conftest import advance_to_confirmed, published, send

pytestmark = pytest.mark.django_db(databases="__all__")


def _ship_in_two_parcels(order):
    shipment_create(order=order, carrier="DHL", tracking_number="P1", actor="staff:sam", lines={"MUG-01": 2})
    shipment_create(order=order, carrier="UPS", tracking_number="P2", actor="staff:sam", lines={"TEE-RED-M": 1})
    order.refresh_from_db()
    return order


@pytest.fixture
def shipped(place_order, shopper):
    # 2 x MUG-01 at 12.50 and 1 x TEE-RED-M at 19.99, 20 % tax: one mug is worth 15.00 back.
    return _ship_in_two_parcels(advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1})))


def _returned(order) -> dict[tuple[int, str], int]:
    return {
        (line.shipment.number, line.sku): line.quantity_returned
        for line in ShipmentLine.objects.filter(shipment__order=order).select_related("shipment")
    }


def test_a_return_records_the_units_and_asks_catalog_to_restock_those_going_back(shipped):
    recorded, created = return_record(
        order=shipped,
        parcel=1,
        lines={"MUG-01": 2},
        restock={"MUG-01"},
        reason="  chipped  ",
        actor="staff:carla",
    )

    assert created is True
    assert (recorded.number, recorded.shipment.number, recorded.reason, recorded.recorded_by) == (
        1,
        1,
        "chipped",
        "staff:carla",
    )
    assert [(line.sku, line.quantity, line.restock) for line in recorded.lines.all()] == [("MUG-01", 2, True)]
    assert _returned(shipped) == {(1, "MUG-01"): 2, (2, "TEE-RED-M"): 0}
    [event] = published("order.lines_returned", shipped)
    assert event == {
        "order_id": str(shipped.id),
        "order_number": shipped.number,
        "return_id": str(recorded.id),
        "parcel_number": 1,
        "lines": [{"sku": "MUG-01", "quantity": 2}],
        "restock": [{"sku": "MUG-01", "quantity": 2}],
    }
    assert recorded.refund is None and published("refund.requested", shipped) == []


def test_goods_kept_out_of_stock_are_returned_without_a_restock(shipped):
    return_record(order=shipped, parcel=2, lines={"TEE-RED-M": 1}, reason="torn", actor="staff:carla")

    [event] = published("order.lines_returned", shipped)
    assert (event["lines"], event["restock"]) == ([{"sku": "TEE-RED-M", "quantity": 1}], [])
    assert _returned(shipped)[(2, "TEE-RED-M")] == 1


def test_the_refund_of_the_returned_units_is_their_share_and_restocks_nothing_more(shipped):
    asked = {"order": shipped, "parcel": 1, "lines": {"MUG-01": 1}, "restock": {"MUG-01"}, "reason": "chipped"}

    preview = return_preview(**asked, refund=True)
    recorded, _ = return_record(**asked, refund=True, actor="staff:carla")

    assert preview == recorded.refund.amount == Decimal("15.00")  # 12.50 + 20 % tax
    assert recorded.refund.lines == [{"sku": "MUG-01", "quantity": 1}]
    assert recorded.refund.reason == "return 1 (parcel 1): chipped"
    [refund] = published("refund.requested", shipped)
    assert (refund["refund_id"], refund["amount"], refund["restock"]) == (str(recorded.refund.id), "15.00", [])
    assert published("order.lines_returned", shipped)[0]["restock"] == [{"sku": "MUG-01", "quantity": 1}]
    assert shipped.lines.get(sku="MUG-01").quantity_refunded == 1
    assert return_preview(**asked) is None  # no refund asked: nothing to show


@pytest.mark.parametrize(
    ("parcel", "lines", "restock", "reason", "error", "message"),
    [
        (1, {"MUG-01": 3}, (), "why", InvalidReturn, "at most 2 can be returned"),
        (1, {"MUG-01": 0}, (), "why", InvalidReturn, "Return at least one unit of line 'MUG-01'"),
        (1, {"MUG-01": -1}, (), "why", InvalidReturn, "Return at least one unit of line 'MUG-01'"),
        (1, {}, (), "why", InvalidReturn, "Return at least one unit."),
        (1, {"TEE-RED-M": 1}, (), "why", InvalidReturn, "Parcel 1 of order"),  # shipped in parcel 2
        (1, {"POSTER-A2": 1}, (), "why", InvalidReturn, "has no line 'POSTER-A2'"),  # another order's line
        (3, {"MUG-01": 1}, (), "why", InvalidReturn, "has no parcel 3"),
        (1, {"MUG-01": 1}, {"TEE-RED-M"}, "why", InvalidReturn, "TEE-RED-M is not returned"),
        (1, {"MUG-01": 1}, (), "   ", ValidationFailed, "invalid fields"),
        (1, {"MUG-01": 1}, (), "x" * 201, ValidationFailed, "invalid fields"),
    ],
)
def test_a_refused_return_says_why_and_changes_nothing(
    shipped, place_order, shopper, parcel, lines, restock, reason, error, message
):
    advance_to_confirmed(place_order(shopper, {"POSTER-A2": 1}))
    outbox_before = OutboxEvent.objects.count()

    with pytest.raises(error, match=message):
        return_preview(order=shipped, parcel=parcel, lines=lines, restock=restock, reason=reason)
    with pytest.raises(error, match=message):
        return_record(order=shipped, parcel=parcel, lines=lines, restock=restock, reason=reason, actor="staff:carla")

    assert not ParcelReturn.objects.exists()
    assert set(_returned(shipped).values()) == {0}
    assert OutboxEvent.objects.count() == outbox_before


def test_what_came_back_before_is_not_returnable_again(shipped):
    return_record(order=shipped, parcel=1, lines={"MUG-01": 1}, reason="chipped", actor="staff:carla")

    with pytest.raises(InvalidReturn, match="shipped 2 and 1 came back before: at most 1 can be returned"):
        return_record(order=shipped, parcel=1, lines={"MUG-01": 2}, reason="again", actor="staff:carla")
    second, _ = return_record(order=shipped, parcel=1, lines={"MUG-01": 1}, reason="the other", actor="staff:carla")

    assert second.number == 2
    assert _returned(shipped)[(1, "MUG-01")] == 2
    with pytest.raises(InvalidReturn, match="at most 0 can be returned"):
        return_record(order=shipped, parcel=1, lines={"MUG-01": 1}, reason="a third?", actor="staff:carla")


@pytest.mark.parametrize(
    ("refunded_first", "error"),
    [({"lines": {"MUG-01": 2}}, InvalidRefund), ({"amount": Decimal("59.87")}, RefundTooLarge)],
    ids=["the-units-refunded-before", "everything-refunded-by-amount"],
)
def test_a_return_whose_refund_is_refused_is_not_recorded(shipped, refunded_first, error):
    order_refund_request(order=shipped, actor="staff:alice", **refunded_first)
    outbox_before = OutboxEvent.objects.count()

    with pytest.raises(error):
        return_record(order=shipped, parcel=1, lines={"MUG-01": 1}, reason="chipped", actor="staff:carla", refund=True)

    assert not ParcelReturn.objects.exists()
    assert _returned(shipped)[(1, "MUG-01")] == 0
    assert Refund.objects.count() == 1 and OutboxEvent.objects.count() == outbox_before


def test_the_same_return_submitted_twice_is_recorded_once(shipped):
    return_id = uuid.uuid4()
    asked = {"order": shipped, "parcel": 1, "lines": {"MUG-01": 1}, "restock": {"MUG-01"}, "reason": "chipped"}

    first, first_created = return_record(**asked, actor="staff:carla", return_id=return_id, refund=True)
    again, again_created = return_record(**asked, actor="staff:carla", return_id=return_id, refund=True)

    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk == return_id
    assert ParcelReturn.objects.count() == 1 and Refund.objects.count() == 1
    assert _returned(shipped)[(1, "MUG-01")] == 1
    assert len(published("order.lines_returned", shipped)) == 1
    assert len(published("refund.requested", shipped)) == 1


def test_a_return_id_of_another_orders_return_is_refused(shipped, place_order, shopper):
    other = _ship_in_two_parcels(advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1})))
    taken, _ = return_record(order=other, parcel=1, lines={"MUG-01": 1}, reason="chipped", actor="staff:carla")

    with pytest.raises(InvalidReturn, match="another order"):
        return_record(
            order=shipped, parcel=1, lines={"MUG-01": 1}, reason="chipped", actor="staff:carla", return_id=taken.pk
        )

    assert _returned(shipped)[(1, "MUG-01")] == 0


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_same_return_submitted_concurrently_is_recorded_once():
    # Made in the database (events are delivered in-process here: a checkout would meet a catalog
    # without the SKUs), paid, and shipped in one parcel.
    order = factories.order(customer_id=uuid.uuid4(), status=OrderStatus.CONFIRMED, lines=1)
    Order.objects.filter(pk=order.pk).update(payment_status=PaymentStatus.CAPTURED, amount_captured=order.total)
    shipment_create(order=order, carrier="DHL", tracking_number="P1", actor="staff:sam")
    return_id = uuid.uuid4()
    barrier = threading.Barrier(4)

    def submit():
        try:
            barrier.wait(timeout=10)
            _, created = return_record(
                order=order,
                parcel=1,
                lines={"SKU-0": 1},
                restock={"SKU-0"},
                reason="chipped",
                actor="staff:carla",
                return_id=return_id,
            )
            return created
        finally:
            connections.close_all()  # this thread's connections; the test database is dropped later

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [future.result(timeout=60) for future in [pool.submit(submit) for _ in range(4)]]

    assert sorted(outcomes) == [False, False, False, True]
    assert ParcelReturn.objects.count() == 1
    assert _returned(order) == {(1, "SKU-0"): 1}
    assert len(published("order.lines_returned", order)) == 1


def test_before_capture_at_shipment_a_returns_refund_is_refused_and_the_return_alone_recorded(
    settings, place_order, shopper
):
    settings.PAYMENTS_CAPTURE_AT = "shipment"
    order = place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1})
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    send(
        "payment.authorized",
        "payments",
        order_id=str(order.id),
        payment_id="pay_held",
        amount=str(order.total),
        currency=order.currency,
    )
    shipment_create(order=order, carrier="DHL", tracking_number="P1", actor="staff:sam", lines={"MUG-01": 2})
    order.refresh_from_db()
    assert (order.payment_status, order.amount_captured) == (PaymentStatus.AUTHORIZED, 0)
    asked = {"order": order, "parcel": 1, "lines": {"MUG-01": 1}, "restock": {"MUG-01"}, "reason": "chipped"}

    with pytest.raises(RefundNotAllowed):
        return_record(**asked, actor="staff:carla", refund=True)
    assert not ParcelReturn.objects.exists()
    recorded, _ = return_record(**asked, actor="staff:carla")

    assert recorded.refund is None and not Refund.objects.exists()
    assert published("order.lines_returned", order)[0]["restock"] == [{"sku": "MUG-01", "quantity": 1}]
