"""Cancellation (shopper, staff) and the saga timeout sweep with its compensation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.orders.errors import IllegalTransition
from apps.orders.models import Order, OrderStatus
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.fulfilment import order_ship
from apps.orders.services.saga import orders_expire_stalled
from apps.orders.tasks import expire_stalled_orders
from tests.orders.conftest import advance_to_confirmed, published, send

pytestmark = pytest.mark.django_db(databases="__all__")


def _age(order: Order, seconds: int) -> None:
    Order.objects.filter(pk=order.pk).update(status_changed_at=timezone.now() - timedelta(seconds=seconds))


def test_cancelling_a_paid_order_refunds_the_capture(place_order, shopper):
    order = advance_to_confirmed(place_order(shopper))

    order_cancel(order=order, reason="staff_cancelled", actor="staff:alice")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert published("order.cancelled", order)[0]["reason"] == "staff_cancelled"
    [refund] = published("refund.requested", order)
    assert Decimal(refund["amount"]) == order.total
    # Catalog committed the stock on order.confirmed: the refund names the goods to put back
    assert refund["restock"] == [{"sku": "MUG-01", "quantity": 2}]


def test_a_shipped_order_cannot_be_cancelled(place_order, shopper):
    order = advance_to_confirmed(place_order(shopper))
    order_ship(order=order, carrier="DHL", tracking_number="JD0001", actor="staff:alice")

    with pytest.raises(IllegalTransition):
        order_cancel(order=order, reason="staff_cancelled", actor="staff:alice")

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert published("order.cancelled", order) == []
    [shipped] = published("order.shipped", order)
    assert (shipped["carrier"], shipped["tracking_number"], shipped["email"]) == ("DHL", "JD0001", shopper.email)


def test_stalled_orders_are_cancelled_after_the_timeout(place_order, shopper, settings):
    settings.ORDERS_SAGA_TIMEOUT_SECONDS = 600
    waiting_for_stock = place_order(shopper)
    waiting_for_payment = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(waiting_for_payment.id), lines=[])
    fresh = place_order(shopper)
    confirmed = advance_to_confirmed(place_order(shopper))
    for order in (waiting_for_stock, waiting_for_payment, confirmed):
        _age(order, 601)
    _age(fresh, 599)

    assert expire_stalled_orders() == 2

    for order in (waiting_for_stock, waiting_for_payment):
        order.refresh_from_db()
        assert order.status == OrderStatus.CANCELLED
        assert order.cancel_reason == "saga_timeout"
        assert published("order.cancelled", order)[0]["reason"] == "saga_timeout"
        assert order.status_changes.last().actor == "system:saga-timeout"
    fresh.refresh_from_db()
    confirmed.refresh_from_db()
    assert fresh.status == OrderStatus.PENDING
    assert confirmed.status == OrderStatus.CONFIRMED
    # A second sweep finds nothing more to do
    assert orders_expire_stalled() == 0


def test_a_payment_that_arrives_after_the_timeout_is_refunded(place_order, shopper, settings):
    settings.ORDERS_SAGA_TIMEOUT_SECONDS = 60
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    _age(order, 61)
    orders_expire_stalled()

    send(
        "payment.succeeded",
        "payments",
        order_id=str(order.id),
        payment_id="late",
        amount=str(order.total),
        currency="EUR",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert Decimal(published("refund.requested", order)[0]["amount"]) == order.total


def test_the_management_command_runs_the_sweep(place_order, shopper, settings, capsys):
    settings.ORDERS_SAGA_TIMEOUT_SECONDS = 60
    order = place_order(shopper)
    _age(order, 61)

    call_command("expire_stalled_orders")

    assert "Expired 1 stalled order(s)." in capsys.readouterr().out
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
