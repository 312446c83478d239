"""Staff refunds: full, by line, by amount; never more than captured minus refunded (and refunds
in flight); a refused refund changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.orders.errors import InvalidRefund, RefundNotAllowed, RefundTooLarge
from apps.orders.models import OrderLine, OutboxEvent, Refund
from apps.orders.services.refunds import order_refund_request
from tests.orders.conftest import advance_to_confirmed, published

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def confirmed_order(place_order, shopper):
    # 2 x 12.50 + 1 x 19.99 = 44.99; shipping 4.90; tax 20 % of goods and shipping 9.98 (9.978); total 59.87
    return advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1}))


def test_full_refund_asks_for_everything_captured_and_restocks_every_line(confirmed_order):
    assert confirmed_order.total == Decimal("59.87")

    refund = order_refund_request(order=confirmed_order, restock=True, actor="staff:alice", reason="damaged")

    assert refund.amount == Decimal("59.87")
    [event] = published("refund.requested", confirmed_order)
    assert event["refund_id"] == str(refund.id)
    assert event["amount"] == "59.87"
    assert event["currency"] == "EUR"
    assert event["reason"] == "damaged"
    assert sorted((line["sku"], line["quantity"]) for line in event["restock"]) == [("MUG-01", 2), ("TEE-RED-M", 1)]


def test_refund_by_line_is_price_plus_tax(confirmed_order):
    refund = order_refund_request(order=confirmed_order, lines={"TEE-RED-M": 1}, restock=True, actor="staff:alice")

    assert refund.amount == Decimal("23.99")  # 19.99 * 1.20 = 23.988
    assert OrderLine.objects.get(order=confirmed_order, sku="TEE-RED-M").quantity_refunded == 1
    [event] = published("refund.requested", confirmed_order)
    assert event["restock"] == [{"sku": "TEE-RED-M", "quantity": 1}]


def test_refund_by_amount(confirmed_order):
    refund = order_refund_request(order=confirmed_order, amount=Decimal("5.00"), actor="staff:alice")

    assert refund.amount == Decimal("5.00")
    assert published("refund.requested", confirmed_order)[0]["restock"] == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": Decimal("59.88")}, RefundTooLarge),
        ({"amount": Decimal("0")}, InvalidRefund),
        ({"amount": Decimal("-1")}, InvalidRefund),
        ({"amount": Decimal("1.001")}, InvalidRefund),
        ({"amount": Decimal("1.00"), "restock": True}, InvalidRefund),
        ({"lines": {"MUG-01": 3}}, InvalidRefund),
        ({"lines": {"MUG-01": 0}}, InvalidRefund),
        ({"lines": {"NOPE": 1}}, InvalidRefund),
        ({"amount": Decimal("1.00"), "lines": {"MUG-01": 1}}, InvalidRefund),
    ],
)
def test_a_refused_refund_changes_nothing(confirmed_order, kwargs, error):
    outbox_before = OutboxEvent.objects.count()

    with pytest.raises(error):
        order_refund_request(order=confirmed_order, actor="staff:alice", **kwargs)

    assert Refund.objects.count() == 0
    assert OutboxEvent.objects.count() == outbox_before
    assert not OrderLine.objects.filter(order=confirmed_order, quantity_refunded__gt=0).exists()


def test_refunds_in_flight_count_against_what_is_left(confirmed_order):
    order_refund_request(order=confirmed_order, amount=Decimal("50.00"), actor="staff:alice")

    with pytest.raises(RefundTooLarge) as error:
        order_refund_request(order=confirmed_order, amount=Decimal("10.00"), actor="staff:bob")

    assert error.value.status_code == 422
    assert error.value.extra["refundable"] == "9.87"
    assert Refund.objects.count() == 1


def test_an_unpaid_order_cannot_be_refunded(place_order, shopper):
    order = place_order(shopper)

    with pytest.raises(RefundNotAllowed):
        order_refund_request(order=order, actor="staff:alice")

    assert published("refund.requested") == []


def test_refunding_every_line_one_by_one_never_exceeds_the_capture(place_order, shopper, catalog):
    # Prices whose per-line tax rounds up: 3 lines of 0.33 (tax 0.066 -> 0.07 each, 0.20 in total)
    catalog.add("PIN-1", price="0.33")
    catalog.add("PIN-2", price="0.33")
    catalog.add("PIN-3", price="0.33")
    order = advance_to_confirmed(place_order(shopper, {"PIN-1": 1, "PIN-2": 1, "PIN-3": 1}))
    order_refund_request(order=order, amount=order.shipping + order.shipping_tax, actor="staff:alice")

    amounts = [
        order_refund_request(order=order, lines={sku: 1}, actor="staff:alice").amount
        for sku in ("PIN-1", "PIN-2", "PIN-3")
    ]

    assert sum(amounts) + order.shipping + order.shipping_tax == order.total
