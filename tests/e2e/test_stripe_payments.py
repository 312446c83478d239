"""Card payments over the fake Stripe (localstripe behind devstack/localstripe.py's proxy), end to
end over HTTP: the shopper's browser makes a PaymentMethod at the fake Stripe and checks out with
its id; the shop charges it through Stripe's SDK; Stripe's events reach the shop's webhook.

Scenarios: success without action; a declined card; webhooks duplicated, out of order (a late
failure; Stripe's event before the charge's answer) and forged; refunds, partial then full; a
shopper who passed 3-D Secure but never came back, with Stripe's webhook dropped, confirmed by
the reconciliation; a charge whose answer was lost and whose webhook was dropped, confirmed by
the reconciliation. Each checks both books: the shop's order and the PaymentIntents and
refunds at the fake Stripe. Where a test needs Stripe to misbehave, it asks the proxy
(FakeStripe.faults).

Runs against both shapes when the shop runs on Stripe (E2E_PAYMENTS_PROVIDER=stripe:
scripts/test-stack and scripts/test-all-in-one)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.e2e.client import (
    SPLIT,
    STRIPE,
    FakeStripe,
    Shopper,
    Staff,
    at_the_bank,
    deliver_event,
    eventually,
    manage,
    payment_token,
    signed_in_shopper,
    stripe_event,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STRIPE, reason="the shop runs on the sandbox (E2E_PAYMENTS_PROVIDER)"),
]

FINAL = {"confirmed", "cancelled"}
# All-in-one, the charge runs inside the checkout request, holding payments' SQLite database for
# each provider call and retrying at once: nothing (an event, the reconciliation) can come
# between a lost answer and its retries. Split, the charge task retries with backoff.
NEEDS_SPLIT = pytest.mark.skipif(not SPLIT, reason="all-in-one: the charge's retries run back to back in checkout")


def _cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def _delivered(stripe: FakeStripe, event_ids: list[str]) -> list[tuple[int, str]]:
    """The shop's answers (status, outcome) to these events, once the proxy has delivered them."""
    relayed = eventually(
        lambda: set(event_ids) <= set(found := stripe.faults()["relayed"]) and found, what="events delivered"
    )
    return [(relayed[event_id]["status"], relayed[event_id]["outcome"]) for event_id in event_ids]


def _dropped_event(stripe: FakeStripe, payment_intent: str) -> None:
    """localstripe made its payment_intent.succeeded, and the proxy dropped it."""
    (event,) = eventually(lambda: stripe.events("payment_intent.succeeded", payment_intent), what="localstripe's event")
    eventually(lambda: event["id"] in stripe.faults()["dropped"], what="localstripe's event dropped")
    assert event["id"] not in stripe.faults()["relayed"]


def _placed(shopper: Shopper, token: str, *, offset: int) -> dict:
    _slug, sku = shopper.in_stock_variant(offset=offset)
    shopper.add_to_cart(sku)
    placed = shopper.checkout(token)
    assert placed.status_code == 201, placed.text
    return placed.json()


def _confirmed_order(offset: int) -> tuple[Shopper, dict, dict]:
    """A shopper's confirmed order and its PaymentIntent at the fake Stripe."""
    shopper, token = signed_in_shopper(), payment_token()
    order = shopper.order_when(_placed(shopper, token, offset=offset)["id"], FINAL)
    assert order["status"] == "confirmed", order
    return shopper, order, FakeStripe().the_payment_intent(payment_method=token)


def test_a_good_card_is_charged_once_at_stripe_and_the_order_confirmed():
    stripe = FakeStripe()
    shopper, order, intent = _confirmed_order(offset=2)

    assert order["payment_status"] == "captured" and order["amount_captured"] == order["total"]
    assert intent["status"] == "succeeded"
    assert (intent["amount"], intent["currency"]) == (_cents(order["total"]), order["currency"].lower())
    payments = shopper.call("GET", "/api/v1/payments/").json()["results"]
    payment = next(payment for payment in payments if payment["order_id"] == order["id"])
    assert (payment["status"], payment["card_brand"].lower(), payment["card_last4"]) == ("succeeded", "visa", "4242")
    # localstripe's own payment_intent.succeeded reached the shop (through the proxy's relay);
    # the charge's answer had recorded the payment, so it changed nothing.
    (event,) = stripe.events("payment_intent.succeeded", intent["id"])
    assert _delivered(stripe, [event["id"]]) == [(200, "already_recorded")]
    assert shopper.order(order["id"])["amount_captured"] == order["total"]


def test_a_declined_card_takes_no_money_and_the_order_waits_for_another_card():
    shopper, token = signed_in_shopper(), payment_token("declined")
    order_id = _placed(shopper, token, offset=4)["id"]
    order = eventually(
        lambda: (
            (o := shopper.order(order_id))["status"] == "payment_action_required"
            and o["payment"]["status"] == "failed"
            and o
        ),
        what="the decline on the waiting order",
    )

    assert (order["payment_status"], order["payment"]["reason_code"]) == ("failed", "declined")
    assert Decimal(order["amount_captured"]) == 0
    intent = FakeStripe().the_payment_intent(payment_method=token)
    assert intent["status"] == "requires_payment_method"  # declined: no money moved
    assert FakeStripe().events("payment_intent.payment_failed", intent["id"])


def test_webhooks_duplicated_out_of_order_or_forged_change_nothing():
    stripe = FakeStripe()
    shopper, order, intent = _confirmed_order(offset=6)
    (succeeded,) = stripe.events("payment_intent.succeeded", intent["id"])
    body = json.dumps(succeeded).encode()
    assert _delivered(stripe, [succeeded["id"]]) == [(200, "already_recorded")]

    # The same event again (Stripe retries a delivery it thinks failed): refused as a replay.
    replayed = deliver_event(body)
    assert (replayed.status_code, replayed.json()["code"]) == (409, "webhook_replayed")
    # The same news under another event id: recorded once already.
    again = deliver_event(stripe_event("payment_intent.succeeded", intent))
    assert (again.status_code, again.json()["outcome"]) == (200, "already_recorded")
    # Out of order: a failure that Stripe reports late, after the success.
    failed_before = {**intent, "status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}
    late = deliver_event(stripe_event("payment_intent.payment_failed", failed_before))
    assert (late.status_code, late.json()["outcome"]) == (200, "ignored_succeeded")
    # A forged cancellation (not signed with the endpoint's secret): refused.
    forged = deliver_event(stripe_event("payment_intent.canceled", intent), secret="whsec_not_the_shops_secret")
    assert (forged.status_code, forged.json()["code"]) == (401, "webhook_signature_invalid")

    after = shopper.order(order["id"])
    assert (after["status"], after["payment_status"], after["amount_captured"]) == (
        "confirmed",
        "captured",
        order["total"],
    )
    assert len(stripe.payment_intents(payment_method=intent["payment_method"])) == 1


def test_a_partial_then_a_full_refund_are_made_at_stripe_once_each():
    stripe = FakeStripe()
    shopper, order, intent = _confirmed_order(offset=8)
    orders_admin = Staff("orders")
    part = (Decimal(order["total"]) / 2).quantize(Decimal("0.01"))

    orders_admin.refund(order["id"], {"amount": str(part), "reason": "e2e: part"})
    partly = shopper.order_when(order["id"], {"partially_refunded"})
    assert Decimal(partly["amount_refunded"]) == part
    eventually(lambda: len(stripe.refunds(intent["id"])) == 1, what="the partial refund at Stripe")

    orders_admin.refund(order["id"], {"refund_everything": "on", "reason": "e2e: rest"})
    refunded = shopper.order_when(order["id"], {"refunded"})
    assert refunded["amount_refunded"] == order["total"]
    refunds = eventually(lambda: len(found := stripe.refunds(intent["id"])) == 2 and found, what="both refunds")
    assert sorted(refund["amount"] for refund in refunds) == sorted(
        [_cents(str(part)), _cents(order["total"]) - _cents(str(part))]
    )
    # Stripe's charge.refunded after each refund (built by the proxy: localstripe makes none)
    # is the echo of the shop's own refund: nothing more is recorded.
    (charge,) = {refund["charge"] for refund in refunds}
    echoes = [event for event, about in stripe.faults()["emitted"].items() if about == f"charge.refunded {charge}"]
    assert len(echoes) == 2
    assert _delivered(stripe, echoes) == [(200, "already_recorded")] * 2
    assert shopper.order(order["id"])["amount_refunded"] == order["total"]


def test_a_shopper_who_never_came_back_from_3d_secure_is_confirmed_by_the_reconciliation():
    """Paid but no order, the case the reconciliation is for: the shopper passes 3-D Secure at the
    bank and closes the tab before the bank sends them back to the shop, and Stripe's
    payment_intent.succeeded is lost. Nothing tells the shop but the reconciliation."""
    stripe, shopper, token = FakeStripe(), signed_in_shopper(), payment_token("3ds_required")
    order_id = _placed(shopper, token, offset=18)["id"]
    payment = eventually(
        lambda: (o := shopper.order(order_id))["payment"]["next_action"] and o["payment"], what="the 3-D Secure action"
    )
    intent_id = stripe.the_payment_intent(payment_method=token)["id"]
    stripe.faults(drop_webhooks=[intent_id])
    try:
        back_to_the_shop = at_the_bank(payment)  # the browser is closed: never followed
        assert stripe.the_payment_intent(payment_method=token)["status"] == "succeeded"
        _dropped_event(stripe, intent_id)

        manage("payments", "reconcile_payments")  # what the payments beat runs every few minutes
        order = shopper.order_when(order_id, FINAL)
    finally:
        stripe.faults_cleared()

    assert (order["status"], order["amount_captured"]) == ("confirmed", order["total"])
    assert "missed_success" in Staff("payments").get("payments/providerdrift/", q=intent_id)
    # The shopper's return, late after all, finds the payment recorded: nothing happens twice.
    returned = shopper.call("GET", back_to_the_shop)
    assert (returned.status_code, returned.json()["status"]) == (200, "succeeded")
    assert shopper.order(order_id)["amount_captured"] == order["total"]
    assert len(stripe.payment_intents(payment_method=token)) == 1


@NEEDS_SPLIT
def test_stripe_s_event_before_the_charge_s_answer_confirms_the_order_once():
    """Out of order: Stripe's payment_intent.succeeded reaches the shop while the charge's own
    answer is still lost (the task retrying); the event confirms the order, the answer that
    follows changes nothing."""
    stripe, shopper, token = FakeStripe(), signed_in_shopper(), payment_token()
    stripe.faults(lose_answers=True, lose_webhooks=False, answer_delay=2)
    try:
        order_id = _placed(shopper, token, offset=14)["id"]
        order = shopper.order_when(order_id, FINAL)
        (intent_id,) = stripe.faults()["lost"].values()
    finally:
        stripe.faults_cleared()

    (event,) = stripe.events("payment_intent.succeeded", intent_id)
    assert _delivered(stripe, [event["id"]]) == [(200, "payment_succeeded")]
    assert (order["status"], order["amount_captured"]) == ("confirmed", order["total"])
    assert len(stripe.payment_intents(payment_method=token)) == 1


@NEEDS_SPLIT
def test_a_lost_answer_and_a_dropped_webhook_are_repaired_by_the_reconciliation():
    stripe, shopper, token = FakeStripe(), signed_in_shopper(), payment_token()
    # Stripe takes the money, but neither its answer nor its event reaches the shop; the charge
    # task retries with backoff meanwhile (each retry's answer lost too).
    stripe.faults(lose_answers=True, answer_delay=2)
    try:
        order_id = _placed(shopper, token, offset=12)["id"]
        lost = eventually(lambda: stripe.faults()["lost"], what="the charge's answer lost")
        (intent_id,) = lost.values()
        assert stripe.the_payment_intent(payment_method=token)["status"] == "succeeded"
        assert shopper.order(order_id)["status"] != "confirmed"

        manage("payments", "reconcile_payments")  # what the payments beat runs every few minutes
        order = shopper.order_when(order_id, FINAL)
        _dropped_event(stripe, intent_id)
    finally:
        stripe.faults_cleared()

    assert (order["status"], order["amount_captured"]) == ("confirmed", order["total"])
    assert "missed_success" in Staff("payments").get("payments/providerdrift/", q=intent_id)
    # The charge task's later retry replays Stripe's first answer: one PaymentIntent, charged once.
    assert len(stripe.payment_intents(payment_method=token)) == 1
    assert shopper.order(order_id)["amount_captured"] == order["total"]


@pytest.mark.skipif(SPLIT, reason="split, the charge task's backoff outlasts the test; the split case is above")
def test_money_taken_after_the_shop_gave_up_is_found_by_the_reconciliation_and_confirms_the_order():
    """All-in-one, the charge runs in the checkout request and retries at once: with every answer
    lost, it gives up, and the order waits for the shopper to pay again though Stripe took the
    money ("paid but no order"). The reconciliation finds the money: the order is confirmed with
    it, once, and staff see the drift."""
    stripe, shopper, token = FakeStripe(), signed_in_shopper(), payment_token()
    stripe.faults(lose_answers=True, answer_delay=0.2)
    try:
        order_id = _placed(shopper, token, offset=12)["id"]
        waiting = eventually(
            lambda: (o := shopper.order(order_id))["payment_status"] == "failed" and o,
            what="the shop giving up on the charge",
        )
        (intent_id,) = stripe.faults()["lost"].values()
        _dropped_event(stripe, intent_id)
    finally:
        stripe.faults_cleared()
    assert (waiting["status"], waiting["payment"]["reason_code"]) == ("payment_action_required", "provider_error")
    intent = stripe.the_payment_intent(payment_method=token)
    assert (intent["id"], intent["status"]) == (intent_id, "succeeded")

    manage("payments", "reconcile_payments")

    order = shopper.order_when(order_id, {"confirmed"})
    assert order["amount_captured"] == order["total"] and Decimal(order["amount_refunded"]) == 0
    assert stripe.refunds(intent_id) == []  # the money stays: it paid for the order
    assert "needs_staff" in Staff("payments").get("payments/providerdrift/", q=intent_id)
