"""The checkout saga's other endings, over HTTP like the journey: a declined card (the order waits
with its stock held, the shopper is told, pays again with another card and the order is
confirmed), 3-D Secure completed at the bank's page, 3-D Secure failed at the bank's page and
paid again with another card, and two shoppers racing for the last unit (one order confirmed,
the other cancelled without a charge, no oversell).

Runs where the journey runs: against the split stack (real workers over the moto server) and the
all-in-one server."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests

from tests.e2e.client import (
    STRIPE,
    FakeStripe,
    Shopper,
    Staff,
    at_the_bank,
    delivery_templates,
    eventually,
    payment_token,
    signed_in_shopper,
)

pytestmark = pytest.mark.e2e


def _final(shopper: Shopper, order_id: str) -> dict:
    return shopper.order_when(order_id, {"confirmed", "cancelled"})


def _waiting(shopper: Shopper, order_id: str) -> dict:
    return shopper.order_when(order_id, {"payment_action_required"})


def _action(shopper: Shopper, order_id: str) -> dict:
    """The order's payment block once it asks for the shopper's 3-D Secure."""
    _waiting(shopper, order_id)
    return eventually(
        lambda: (o := shopper.order(order_id))["payment"]["next_action"] and o["payment"],
        what="the 3-D Secure action",
    )


def test_a_declined_card_holds_the_stock_and_another_card_confirms_the_order():
    shopper = signed_in_shopper()
    slug, sku = shopper.in_stock_variant(offset=10)
    before = shopper.available(slug, sku)
    shopper.add_to_cart(sku, 2)

    placed = shopper.checkout(payment_token("declined"))
    assert placed.status_code == 201, placed.text

    order = _waiting(shopper, placed.json()["id"])
    order = eventually(
        lambda: (o := shopper.order(placed.json()["id"]))["payment"]["status"] == "failed" and o,
        what="the decline on the order",
    )
    assert order["payment"]["reason_code"] == "declined"
    assert order["payment"]["deadline"]
    assert shopper.available(slug, sku) == before - 2  # held for the shopper
    notifications = Staff("notifications")
    eventually(
        lambda: "payment_failed" in set(delivery_templates(notifications, shopper.email)),
        what="the shopper told of the failed payment",
    )

    declined = shopper.call(
        "POST", order["payment"]["retry_url"], json={"payment_method_token": payment_token("declined")}
    )
    assert (declined.status_code, declined.json()["code"]) == (402, "payment_declined"), declined.text
    paid = shopper.call("POST", order["payment"]["retry_url"], json={"payment_method_token": payment_token()})
    assert paid.status_code == 200, paid.text

    order = _final(shopper, placed.json()["id"])
    assert order["status"] == "confirmed"
    assert Decimal(order["amount_captured"]) == Decimal(order["total"])


def test_3d_secure_at_the_bank_page_confirms_the_order():
    shopper = signed_in_shopper()
    _, sku = shopper.in_stock_variant(offset=12)
    shopper.add_to_cart(sku)

    token = payment_token("3ds_required")
    placed = shopper.checkout(token)
    assert placed.status_code == 201, placed.text
    action = _action(shopper, placed.json()["id"])
    assert action["deadline"] and action["client_secret"]

    # The shopper's browser: the bank's page (the sandbox's at the shop, or the fake Stripe's),
    # which sends it back to the shop's return URL with Stripe's parameters.
    returned = shopper.call("GET", at_the_bank(action))
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "succeeded"

    order = _final(shopper, placed.json()["id"])
    assert order["status"] == "confirmed"
    assert Decimal(order["amount_captured"]) == Decimal(order["total"])
    if STRIPE:  # one PaymentIntent, charged once, whether the return or the webhook came first
        intent = FakeStripe().the_payment_intent(payment_method=token)
        assert intent["status"] == "succeeded"


def test_3d_secure_failed_at_the_bank_page_then_another_card_confirms_the_order():
    shopper = signed_in_shopper()
    slug, sku = shopper.in_stock_variant(offset=16)
    before = shopper.available(slug, sku)
    shopper.add_to_cart(sku)

    token = payment_token("3ds_fail")
    placed = shopper.checkout(token)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]

    # The shopper fails 3-D Secure at the bank's page and comes back to the shop.
    action = _action(shopper, order_id)
    returned = shopper.call("GET", at_the_bank(action, succeed=False))
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "failed"
    order = eventually(
        lambda: (o := shopper.order(order_id))["payment"]["status"] == "failed" and o,
        what="the failed authentication on the order",
    )
    assert (order["status"], order["payment"]["reason_code"]) == ("payment_action_required", "authentication_failed")
    assert Decimal(order["amount_captured"]) == 0
    assert shopper.available(slug, sku) == before - 1  # still held for the shopper

    # Another card, before the deadline: charged at once, the order confirmed.
    good = payment_token()
    paid = shopper.call("POST", order["payment"]["retry_url"], json={"payment_method_token": good})
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "succeeded"
    order = _final(shopper, order_id)
    assert order["status"] == "confirmed"
    assert Decimal(order["amount_captured"]) == Decimal(order["total"])
    if STRIPE:  # the failed PaymentIntent (its client secret's) took nothing; the other card's was charged once
        stripe = FakeStripe()
        failed = stripe.payment_intent(action["client_secret"].split("_secret_")[0])
        assert failed["status"] in ("requires_payment_method", "canceled") and failed["amount_received"] == 0
        charged = stripe.the_payment_intent(payment_method=good)
        assert (charged["status"], charged["amount_received"]) == ("succeeded", charged["amount"])


def test_two_shoppers_racing_for_the_last_unit_get_one_order_and_no_oversell():
    first, second = signed_in_shopper(), signed_in_shopper()
    slug, sku = first.in_stock_variant(offset=20)
    available = first.available(slug, sku)
    # Staff leave exactly one unit on the shelf, through the catalog admin's stock adjustment.
    Staff("catalog").post(
        "catalog/stockadjustment/add/", {"sku": sku, "delta": str(1 - available), "reason": "e2e: the last unit"}
    )
    assert first.available(slug, sku) == 1
    for shopper in (first, second):
        shopper.add_to_cart(sku)

    answers: dict[str, requests.Response] = {}
    tokens = {shopper.email: payment_token() for shopper in (first, second)}
    racers = [
        threading.Thread(target=lambda s=shopper: answers.__setitem__(s.email, s.checkout(tokens[s.email])))
        for shopper in (first, second)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)

    orders = []
    for shopper in (first, second):
        answer = answers[shopper.email]
        # The loser is refused at checkout (422, the unit already held) or cancelled by the saga.
        assert answer.status_code in (201, 422), answer.text
        if answer.status_code == 201:
            orders.append((_final(shopper, answer.json()["id"]), tokens[shopper.email]))
    statuses = sorted(order["status"] for order, _ in orders)
    assert statuses in (["confirmed"], ["cancelled", "confirmed"]), statuses
    for order, token in orders:
        if order["status"] == "cancelled":
            assert order["payment_status"] == "not_requested" and Decimal(order["amount_captured"]) == 0
        if STRIPE:  # the loser's card was never charged at the provider, the winner's once
            assert len(FakeStripe().payment_intents(payment_method=token)) == (order["status"] == "confirmed")
    assert first.available(slug, sku) == 0
