"""Capture at shipment, end to end over HTTP: the checkout only authorizes the card (the order is
confirmed on the authorization); staff ship two parcels of part of the order through the orders
admin's parcel form, then close the rest that will never ship; the card is charged once, for
exactly what the parcels shipped, the rest of the authorization is released (no refund), the
unshipped goods go back on the shelf, and the money invariant holds.

PAYMENTS_CAPTURE_AT is the whole shop's setting, read by orders at start: this runs in a pass of
its own (marker capture_at_shipment) after scripts/test-stack and scripts/test-all-in-one
restarted the shop with PAYMENTS_CAPTURE_AT=shipment (scripts/test-env), and reads the same
variable."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest

from tests.e2e.client import STRIPE, FakeStripe, Staff, eventually, money_invariant, payment_token, signed_in_shopper

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.capture_at_shipment,
    pytest.mark.skipif(
        os.environ.get("PAYMENTS_CAPTURE_AT") != "shipment",
        reason="the shop captures at confirmation; scripts/test-* run this with PAYMENTS_CAPTURE_AT=shipment",
    ),
]


def _cents(amount: Decimal | str) -> int:
    return int(Decimal(amount) * 100)


def _ship(staff: Staff, order: dict, units: dict[str, int], tracking: str) -> Decimal:
    """A parcel through the orders admin's parcel form; its share of the order's money, as the
    admin says it when the parcel is shipped."""
    page = staff.post(
        f"orders/order/{order['id']}/parcel/",
        {"carrier": "UPS", "tracking_number": tracking, **{f"line_{sku}": str(n) for sku, n in units.items()}},
    )
    shipped = re.search(rf"{order['number']}: parcel \d+ shipped \(([\d.]+) {order['currency']}\)", page)
    assert shipped is not None, "the admin confirms the parcel with its share"
    return Decimal(shipped.group(1))


def test_parcels_are_captured_once_for_what_shipped_and_the_rest_is_released():
    shopper = signed_in_shopper()
    _, kept = shopper.in_stock_variant(offset=24)
    slug, never_shipped = shopper.in_stock_variant(offset=26, units=1)
    assert kept != never_shipped
    on_the_shelf = shopper.available(slug, never_shipped)
    shopper.add_to_cart(kept, 2)
    shopper.add_to_cart(never_shipped, 1)
    token = payment_token()
    placed = shopper.checkout(token)
    assert placed.status_code == 201, placed.text
    order = shopper.order_when(placed.json()["id"], {"confirmed", "cancelled"})

    # Confirmed on the authorization: nothing taken yet.
    assert (order["status"], order["payment_status"], Decimal(order["amount_captured"])) == (
        "confirmed",
        "authorized",
        0,
    )
    stripe = FakeStripe() if STRIPE else None
    if stripe:
        intent = stripe.the_payment_intent(payment_method=token)
        assert (intent["status"], intent["capture_method"]) == ("requires_capture", "manual")
        assert (intent["amount_capturable"], intent["amount_received"]) == (_cents(order["total"]), 0)

    orders_admin = Staff("orders")
    first = _ship(orders_admin, order, {kept: 1, never_shipped: 0}, "1Z000E2E0001")
    second = _ship(orders_admin, order, {kept: 1, never_shipped: 0}, "1Z000E2E0002")
    partly = shopper.order(order["id"])
    assert (partly["status"], partly["payment_status"], len(partly["shipments"])) == (
        "partially_shipped",
        "authorized",
        2,
    )
    if stripe:  # parcels take no money until the order's fulfilment is settled
        assert stripe.the_payment_intent(payment_method=token)["status"] == "requires_capture"

    # The last unit will never ship: staff close the rest, and the order is captured for what shipped.
    closed = orders_admin.post("orders/order/", {"action": "close_unshipped", "_selected_action": order["id"]})
    assert f"{order['number']}: closed" in closed
    shipped = first + second
    captured = eventually(
        lambda: (o := shopper.order(order["id"]))["payment_status"] == "captured" and o, what="the capture"
    )
    assert captured["status"] == "shipped"
    assert Decimal(captured["amount_captured"]) == shipped < Decimal(order["total"])
    assert Decimal(captured["amount_refunded"]) == 0
    if stripe:  # charged once, for the parcels; the rest released, not refunded
        intent = stripe.the_payment_intent(payment_method=token)
        assert (intent["status"], intent["amount_received"], intent["amount_capturable"]) == (
            "succeeded",
            _cents(shipped),
            0,
        )
        assert stripe.refunds(intent["id"]) == []
    eventually(lambda: shopper.available(slug, never_shipped) == on_the_shelf, what="the unshipped unit restocked")
    assert money_invariant(order["id"]) == (shipped, shipped)
