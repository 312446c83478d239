"""The checkout saga's other endings, over HTTP like the journey: a declined card (the order is
cancelled, its stock released, the shopper told) and two shoppers racing for the last unit (one
order confirmed, the other cancelled without a charge, no oversell).

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
    delivery_templates,
    eventually,
    payment_token,
    signed_in_shopper,
)

pytestmark = pytest.mark.e2e


def _final(shopper: Shopper, order_id: str) -> dict:
    return shopper.order_when(order_id, {"confirmed", "cancelled"})


def test_a_declined_card_cancels_the_order_releases_the_stock_and_tells_thesigned_in_shopper():
    shopper = signed_in_shopper()
    slug, sku = shopper.in_stock_variant(offset=10)
    before = shopper.available(slug, sku)
    shopper.add_to_cart(sku, 2)

    placed = shopper.checkout(payment_token("declined"))
    assert placed.status_code == 201, placed.text

    order = _final(shopper, placed.json()["id"])
    assert order["status"] == "cancelled"
    assert order["payment_status"] == "failed"
    assert Decimal(order["amount_captured"]) == 0
    eventually(lambda: shopper.available(slug, sku) == before, what="the reserved units released")
    notifications = Staff("notifications")
    eventually(
        lambda: {"payment_failed", "order_cancelled"} & set(delivery_templates(notifications, shopper.email)),
        what="the shopper told of the failed payment",
    )


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
