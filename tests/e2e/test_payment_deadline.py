"""A shopper who abandons 3-D Secure, end to end over HTTP: the order waits with its stock held
until its payment deadline, then the deadline's sweep cancels it (`payment_deadline`), catalog
releases the stock, the shopper gets the cancellation email, and no money is taken: paying
afterwards is refused, and on Stripe the reconciliation closes the PaymentIntent.

The shop's deadline is 15 minutes; this needs one a test can wait for, so it runs in a pass of its
own (marker payment_deadline) after scripts/test-stack and scripts/test-all-in-one restarted the
shop with ORDERS_PAYMENT_ACTION_SECONDS (scripts/test-env), and reads the same variable. The split
stack's orders beat sweeps (every ORDERS_SAGA_SWEEP_SECONDS); the all-in-one shape has no beat, so
the test runs the sweep's command once the deadline has passed, as cron would."""

from __future__ import annotations

import os
import time
from decimal import Decimal

import pytest

from tests.e2e.client import (
    SPLIT,
    STRIPE,
    FakeStripe,
    Staff,
    deadline_seconds_left,
    delivery_templates,
    delivery_text,
    eventually,
    manage,
    payment_token,
    signed_in_shopper,
)

PAYMENT_ACTION_SECONDS = int(os.environ.get("ORDERS_PAYMENT_ACTION_SECONDS", "900"))
SWEEP_SECONDS = int(os.environ.get("ORDERS_SAGA_SWEEP_SECONDS", "60"))

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.payment_deadline,
    pytest.mark.skipif(
        PAYMENT_ACTION_SECONDS > 120,
        reason="the shop gives the shopper 15 minutes to pay; scripts/test-* run this with a short deadline",
    ),
]


def test_3d_secure_abandoned_until_the_deadline_cancels_the_order_releases_the_stock_and_takes_nothing():
    shopper = signed_in_shopper()
    slug, sku = shopper.in_stock_variant(offset=22)
    before = shopper.available(slug, sku)
    shopper.add_to_cart(sku, 2)
    token = payment_token("3ds_required")
    placed = shopper.checkout(token)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    # The shop asks for 3-D Secure; the shopper never opens the bank's page.
    payment = eventually(
        lambda: (o := shopper.order(order_id))["payment"]["next_action"] and o["payment"], what="the 3-D Secure action"
    )
    assert 0 < deadline_seconds_left(payment) <= PAYMENT_ACTION_SECONDS
    assert shopper.available(slug, sku) == before - 2  # held for the shopper meanwhile

    if SPLIT:  # orders' beat sweeps on its own
        wait = deadline_seconds_left(payment) + SWEEP_SECONDS + 30
    else:  # no beat all-in-one: the sweep's command, once the deadline has passed
        time.sleep(max(0.0, deadline_seconds_left(payment)) + 1)
        manage("orders", "expire_stalled_orders")
        wait = 30
    order = shopper.order_when(order_id, {"confirmed", "cancelled"}, timeout=wait)

    assert (order["status"], order["cancel_reason"]) == ("cancelled", "payment_deadline")
    last = order["status_history"][-1]
    assert (last["from_status"], last["to_status"]) == ("payment_action_required", "cancelled")
    assert Decimal(order["amount_captured"]) == 0 and not order["payment"]["client_secret"]
    eventually(lambda: shopper.available(slug, sku) == before, what="the stock released")
    notifications = Staff("notifications")
    text = eventually(
        lambda: delivery_text(notifications, shopper.email, "order_cancelled"), what="the cancellation email"
    )
    assert "not paid in time" in text, text
    assert "order_confirmed" not in delivery_templates(notifications, shopper.email)

    # Too late to pay: refused, and nothing is charged.
    late = payment_token()
    refused = shopper.call("POST", f"/api/v1/payments/orders/{order_id}/attempts/", json={"payment_method_token": late})
    assert (refused.status_code, refused.json()["code"]) == (409, "payment_deadline_passed"), refused.text
    if STRIPE:
        stripe = FakeStripe()
        assert stripe.payment_intents(payment_method=late) == []
        # The reconciliation closes the shopper's 3-D Secure at Stripe: it can never be paid now.
        manage("payments", "reconcile_payments")
        intent = stripe.the_payment_intent(payment_method=token)
        assert (intent["status"], intent["amount_received"]) == ("canceled", 0)
        # Closing it is the deadline's news, which the cancellation email already gave: no
        # "payment failed" email follows (the event's way to notifications takes a second or two).
        if SPLIT:
            time.sleep(5)
        assert "payment_failed" not in delivery_templates(notifications, shopper.email)
