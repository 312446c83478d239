"""Capture at shipment, payments' answers to orders: an authorization confirms the order (once);
one of another amount cancels it and lets the authorization go; one for a cancelled order is let
go at once; a failed capture is shown to staff in the orders admin; a late capture of a cancelled
order is refunded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.orders.models import OrderStatus, PaymentStatus
from apps.orders.services.cancellation import order_cancel
from tests.orders.conftest import published, send

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def capture_at_shipment(settings):
    settings.PAYMENTS_CAPTURE_AT = "shipment"


def _authorize(order, *, amount=None):
    return send(
        "payment.authorized",
        "payments",
        order_id=str(order.id),
        payment_id=f"pay_{order.id.hex[:8]}",
        amount=str(amount if amount is not None else order.total),
        currency=order.currency,
    )


@pytest.fixture
def reserved(place_order, shopper):
    order = place_order(shopper, {"MUG-01": 2})
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    order.refresh_from_db()
    return order


def test_the_payment_is_requested_for_authorization_only(reserved):
    [requested] = published("payment.requested", reserved)

    assert requested["capture"] == "manual"


def test_an_authorization_confirms_the_order_once(reserved):
    assert _authorize(reserved)
    assert _authorize(reserved)  # redelivered

    reserved.refresh_from_db()
    assert (reserved.status, reserved.payment_status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)
    assert (reserved.amount_authorized, reserved.amount_captured) == (reserved.total, 0)
    assert len(published("order.confirmed", reserved)) == 1
    assert reserved.payment_method_token == ""


def test_an_authorization_of_another_amount_cancels_and_is_released(reserved):
    _authorize(reserved, amount=reserved.total - 1)

    reserved.refresh_from_db()
    assert (reserved.status, reserved.cancel_reason) == (OrderStatus.CANCELLED, "payment_mismatch")
    [release] = published("payment.release_requested", reserved)
    assert release["request_id"] == f"order-{reserved.id}-release"
    assert published("order.lines_cancelled", reserved) == []  # stock was only reserved, not committed


def test_an_authorization_for_a_cancelled_order_is_released(reserved):
    order_cancel(order=reserved, reason="customer_request", actor="customer:x")

    _authorize(reserved)

    reserved.refresh_from_db()
    assert reserved.status == OrderStatus.CANCELLED
    assert len(published("payment.release_requested", reserved)) == 1


def test_a_capture_for_an_order_cancelled_meanwhile_is_refunded(reserved):
    _authorize(reserved)
    order_cancel(order=reserved, reason="staff_cancelled", actor="staff:alice")

    send(
        "payment.captured",
        "payments",
        order_id=str(reserved.id),
        payment_id="pay",
        capture_id="provider:pi_1",
        amount=str(reserved.total),
        currency=reserved.currency,
        released="0.00",
    )

    reserved.refresh_from_db()
    assert reserved.amount_captured == reserved.total
    [refund] = published("refund.requested", reserved)
    assert Decimal(refund["amount"]) == reserved.total


def test_a_failed_capture_is_shown_to_staff_in_the_orders_admin(reserved, admin_client):
    _authorize(reserved)

    send(
        "payment.capture_failed",
        "payments",
        order_id=str(reserved.id),
        payment_id="pay",
        capture_id=f"order-{reserved.id}-capture",
        amount=str(reserved.total),
        currency=reserved.currency,
        reason_code="provider_declined",
        message="The card issuer refused the capture.",
    )

    reserved.refresh_from_db()
    assert reserved.payment_status == PaymentStatus.CAPTURE_FAILED
    listing = admin_client.get(
        reverse("admin:orders_order_changelist"), {"payment_status__exact": "capture_failed"}
    ).content.decode()
    assert reserved.number in listing
    assert "provider_declined: The card issuer refused the capture." in listing
