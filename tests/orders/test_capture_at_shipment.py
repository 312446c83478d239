"""Capture at shipment (PAYMENTS_CAPTURE_AT=shipment) over the whole saga in one process, with the
sandbox provider: the checkout only authorizes and confirms; one parcel captures the order; two
parcels capture once, when the last leaves; closing the unshipped rest captures what shipped and
releases the rest (its goods back in stock); a cancellation releases everything; a refused capture
and an expired authorization are flagged for staff. The money invariant holds after each."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import Stock
from apps.orders.errors import PaymentNotHeld
from apps.orders.models import Order, OrderStatus, PaymentStatus
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.shipments import order_close_unshipped, shipment_create
from apps.payments.models import CaptureRequest, Charge, PaymentIntent, SandboxCharge
from tests.orders.conftest import client_for, make_shopper, published, send
from tests.orders.test_full_saga import _checkout, live_catalog, seed  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def capture_at_shipment(settings):
    settings.PAYMENTS_CAPTURE_AT = "shipment"


def _order(lines: dict[str, int], *, token: str = "tok_visa", key: str) -> Order:
    client = client_for(make_shopper())
    for sku, quantity in lines.items():
        added = client.post("/api/v1/orders/cart/lines/", {"sku": sku, "quantity": quantity}, format="json")
        assert added.status_code == 200, added.json()
    response = _checkout(client, token, key)
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def _ship(order: Order, lines: dict[str, int] | None = None, *, tracking: str = "JD0001"):
    return shipment_create(order=order, carrier="DHL", tracking_number=tracking, lines=lines, actor="staff:alice")


def _on_hand(sku: str) -> tuple[int, int]:
    stock = Stock.objects.get(variant__sku=sku)
    return stock.on_hand, stock.reserved


def _invariant_holds(capsys) -> None:
    call_command("check_money_invariant")
    assert "0 differ" in capsys.readouterr().out


def test_the_checkout_authorizes_and_confirms_without_taking_money(live_catalog, capsys):  # noqa: F811
    seed("AUTH-MUG", price="12.50", stock=5)

    order = _order({"AUTH-MUG": 2}, key="auth-1")

    assert (order.status, order.payment_status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)
    assert (order.amount_authorized, order.amount_captured) == (order.total, Decimal("0"))
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert (intent.capture_method, intent.capture_status) == ("manual", "authorized")
    assert not Charge.objects.filter(intent=intent).exists()
    assert SandboxCharge.objects.get(charge_id=intent.provider_charge_id).outcome == "authorized"
    assert _on_hand("AUTH-MUG") == (3, 0)  # committed at confirmation, as with capture at once
    _invariant_holds(capsys)


def test_one_parcel_captures_the_whole_order(live_catalog, capsys):  # noqa: F811
    seed("ONE-MUG", price="12.50", stock=5)
    order = _order({"ONE-MUG": 2}, key="one-1")

    shipment = _ship(order)

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.SHIPPED, PaymentStatus.CAPTURED)
    assert shipment.amount == order.total == order.amount_captured
    assert Charge.objects.get(intent__order_id=order.id).amount == order.total
    assert SandboxCharge.objects.get(charge_id=_charge_id(order)).captured == order.total
    _invariant_holds(capsys)


def _charge_id(order: Order) -> str:
    return PaymentIntent.objects.get(order_id=order.id).provider_charge_id


def test_two_parcels_capture_once_when_the_last_leaves(live_catalog, capsys):  # noqa: F811
    seed("TWO-MUG", price="12.50", stock=5)
    seed("TWO-TEE", price="20.00", stock=5)
    order = _order({"TWO-MUG": 2, "TWO-TEE": 1}, key="two-1")
    lines = {line.sku: line for line in order.lines.all()}

    first = _ship(order, {"TWO-MUG": 2}, tracking="P1")
    order.refresh_from_db()

    # the first parcel carries its lines' totals and the shipping; nothing is taken yet
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert order.payment_status == PaymentStatus.AUTHORIZED and order.amount_captured == 0
    shipping_with_tax = order.total - sum(line.total for line in lines.values())
    assert first.amount == lines["TWO-MUG"].total + shipping_with_tax

    second = _ship(order, {"TWO-TEE": 1}, tracking="P2")
    order.refresh_from_db()

    assert (order.status, order.payment_status) == (OrderStatus.SHIPPED, PaymentStatus.CAPTURED)
    assert second.amount == lines["TWO-TEE"].total
    assert order.amount_captured == first.amount + second.amount == order.total
    assert CaptureRequest.objects.filter(intent__order_id=order.id).count() == 1
    notices = published("order.shipped", order)
    assert [(n["parcel_number"], n["tracking_number"], n["complete"]) for n in notices] == [
        (1, "P1", False),
        (2, "P2", True),
    ]
    _invariant_holds(capsys)


def test_closing_the_unshipped_rest_captures_what_shipped_and_releases_the_rest(live_catalog, capsys):  # noqa: F811
    seed("REST-MUG", price="12.50", stock=5)
    seed("REST-TEE", price="20.00", stock=5)
    order = _order({"REST-MUG": 2, "REST-TEE": 1}, key="rest-1")
    assert _on_hand("REST-TEE") == (4, 0)
    parcel = _ship(order, {"REST-MUG": 2})

    order_close_unshipped(order=order, actor="staff:alice", reason="out of stock at the warehouse")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.SHIPPED, PaymentStatus.CAPTURED)
    assert order.amount_captured == parcel.amount < order.total
    sandbox = SandboxCharge.objects.get(charge_id=_charge_id(order))
    assert (sandbox.amount, sandbox.captured) == (order.total, parcel.amount)  # the rest released
    assert order.lines.get(sku="REST-TEE").quantity_cancelled == 1
    assert _on_hand("REST-TEE") == (5, 0)  # the tee never shipped: back on the shelf
    _invariant_holds(capsys)

    # and what was captured can be refunded as usual
    order_refund_request(order=order, lines={"REST-MUG": 1}, actor="staff:alice")
    order.refresh_from_db()
    assert order.amount_refunded > 0
    _invariant_holds(capsys)


def test_cancelling_before_shipping_releases_the_authorization(live_catalog, capsys):  # noqa: F811
    seed("GONE-MUG", price="12.50", stock=5)
    order = _order({"GONE-MUG": 2}, key="gone-1")

    order_cancel(order=order, reason="staff_cancelled", actor="staff:alice")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.CANCELLED, PaymentStatus.RELEASED)
    assert SandboxCharge.objects.get(charge_id=_charge_id(order)).outcome == "canceled"
    assert PaymentIntent.objects.get(order_id=order.id).capture_status == "released"
    assert _on_hand("GONE-MUG") == (5, 0)
    assert published("refund.requested", order) == []
    _invariant_holds(capsys)


def test_a_refused_capture_is_flagged_for_staff(live_catalog, capsys):  # noqa: F811
    seed("FAIL-MUG", price="12.50", stock=5)
    order = _order({"FAIL-MUG": 1}, token="tok_capture_fails", key="fail-1")

    _ship(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED  # the goods left; the money did not come
    assert order.payment_status == PaymentStatus.CAPTURE_FAILED
    assert order.payment_issue.startswith("provider_declined:")
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert (intent.attention, intent.capture_status) == ("capture_failed", "failed")
    assert intent.capture_requests.get().failure_code == "capture_declined"
    assert not Charge.objects.filter(intent=intent).exists()
    _invariant_holds(capsys)


def test_an_expired_authorization_is_flagged_and_blocks_further_parcels(live_catalog, capsys):  # noqa: F811
    seed("OLD-MUG", price="12.50", stock=5)
    seed("OLD-TEE", price="20.00", stock=5)
    order = _order({"OLD-MUG": 1, "OLD-TEE": 1}, key="old-1")
    # the authorization was made eight days ago: past the 7 days a card authorization lasts
    SandboxCharge.objects.filter(charge_id=_charge_id(order)).update(created_at=timezone.now() - timedelta(days=8))

    _ship(order, {"OLD-MUG": 1})
    order_close_unshipped(order=order, actor="staff:alice")

    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.CAPTURE_FAILED
    assert order.payment_issue.startswith("authorization_expired:")
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert (intent.attention, intent.capture_status) == ("authorization_expired", "expired")
    assert order.amount_captured == 0
    _invariant_holds(capsys)


def test_an_order_whose_authorization_expired_before_shipping_cannot_ship(live_catalog):  # noqa: F811
    seed("LATE-MUG", price="12.50", stock=5)
    order = _order({"LATE-MUG": 1}, key="late-1")
    # payments reports the authorization gone (Stripe's payment_intent.canceled after 7 days)
    send(
        "payment.capture_failed",
        "payments",
        order_id=str(order.id),
        payment_id=order.payment_id,
        capture_id="",
        amount=str(order.total),
        currency=order.currency,
        reason_code="authorization_expired",
        message="The card authorization expired before the capture; nothing was taken.",
    )

    with pytest.raises(PaymentNotHeld):
        _ship(order)

    order.refresh_from_db()
    assert (order.status, order.shipments.count()) == (OrderStatus.CONFIRMED, 0)
