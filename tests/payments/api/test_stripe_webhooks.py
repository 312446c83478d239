"""POST /api/v1/payments/webhooks/stripe/: Stripe's events, verified with the SDK, applied once and
in any order. The events are localstripe's own (payment_intent.succeeded/payment_failed) or built
around localstripe's objects as Stripe shapes them (the others: localstripe does not make them)."""

from __future__ import annotations

import contextlib

import pytest
import stripe
from rest_framework.test import APIClient

from apps.core.events.handlers import deliver
from apps.payments.models import PaymentIntent, Refund, WebhookEvent
from tests.localstripe import CARD_DECLINED_ON_CHARGE, event_body, signed
from tests.payments import factories
from tests.payments.helpers import all_event_types, assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

URL = "/api/v1/payments/webhooks/stripe/"


def _post(body: bytes, *, header: str | None = None):
    return APIClient().post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header or signed(body)
    )


def _pending(localstripe, *, amount: str = "25.00") -> PaymentIntent:
    """A payment whose charge call went out but whose answer was lost."""
    envelope = factories.payment_requested(amount=amount)
    payload = envelope.payload
    return PaymentIntent.objects.create(
        order_id=payload["order_id"],
        order_number=payload["order_number"],
        customer_id=payload["customer_id"],
        amount=payload["amount"],
        currency="EUR",
        idempotency_key=payload["idempotency_key"],
        provider="stripe",
    )


def _charged_at_stripe(localstripe, intent: PaymentIntent, *, card: str | None = None, cents: int = 2500) -> str:
    """The PaymentIntent the lost charge call made at Stripe (with the order's key as metadata)."""
    params = {
        "amount": cents,
        "currency": "eur",
        "payment_method": localstripe.payment_method(card) if card else localstripe.payment_method(),
        "payment_method_types": ["card"],
        "metadata": {"shopstack_idempotency_key": intent.idempotency_key},
    }
    created = localstripe.client.v1.payment_intents.create(params=params)
    # A declined card answers 402; the event localstripe made is what matters here.
    with contextlib.suppress(stripe.CardError):
        localstripe.client.v1.payment_intents.confirm(created.id)
    return created.id


def test_a_bad_signature_is_refused_and_changes_nothing(localstripe):
    intent = _pending(localstripe)
    pi = _charged_at_stripe(localstripe, intent)
    body = localstripe.event_for("payment_intent.succeeded", pi)

    for header in ("", "t=1,v1=" + "0" * 64, signed(body, secret="whsec_another_endpoint_secret")):
        response = APIClient().post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
        assert_problem(response, status=401, code="webhook_signature_invalid")

    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.PENDING
    assert not WebhookEvent.objects.exists()
    assert all_event_types() == []


def test_a_stale_signature_is_refused(localstripe):
    intent = _pending(localstripe)
    body = localstripe.event_for("payment_intent.succeeded", _charged_at_stripe(localstripe, intent))

    response = _post(body, header=signed(body, timestamp=1_700_000_000))

    assert_problem(response, status=401, code="webhook_signature_invalid")
    assert not WebhookEvent.objects.exists()


def test_succeeded_confirms_a_payment_whose_answer_was_lost_once_however_often_it_comes(localstripe):
    # given a pending payment whose PaymentIntent succeeded at Stripe
    intent = _pending(localstripe)
    pi = _charged_at_stripe(localstripe, intent)
    body = localstripe.event_for("payment_intent.succeeded", pi)

    # when Stripe's event arrives, is replayed, and arrives again under another id
    first = _post(body)
    replay = _post(body)
    again = _post(event_body("payment_intent.succeeded", localstripe.client.v1.payment_intents.retrieve(pi).to_dict()))

    # then the payment succeeded once and the order heard of it once
    assert first.json()["outcome"] == "payment_succeeded"
    assert_problem(replay, status=409, code="webhook_replayed")
    assert again.json()["outcome"] == "already_recorded"
    intent.refresh_from_db()
    assert (intent.status, intent.provider_charge_id) == (PaymentIntent.Status.SUCCEEDED, pi)
    assert [event["order_id"] for event in events("payment.succeeded")] == [str(intent.order_id)]


def test_a_failure_arriving_after_the_success_changes_nothing(localstripe):
    intent = _pending(localstripe)
    pi = _charged_at_stripe(localstripe, intent)
    failed = dict(localstripe.client.v1.payment_intents.retrieve(pi).to_dict(), status="requires_payment_method")

    _post(localstripe.event_for("payment_intent.succeeded", pi))
    late = _post(event_body("payment_intent.payment_failed", failed))

    assert late.json()["outcome"] == "ignored_succeeded"
    intent.refresh_from_db()
    assert intent.status == PaymentIntent.Status.SUCCEEDED
    assert all_event_types() == ["payment.succeeded"]


def test_payment_failed_fails_a_pending_payment_with_stripes_code(localstripe):
    intent = _pending(localstripe)
    pi = _charged_at_stripe(localstripe, intent, card=CARD_DECLINED_ON_CHARGE)

    response = _post(localstripe.event_for("payment_intent.payment_failed", pi))

    assert response.json()["outcome"] == "payment_failed"
    intent.refresh_from_db()
    assert (intent.status, intent.failure_code) == (PaymentIntent.Status.FAILED, "card_declined")
    assert [event["reason_code"] for event in events("payment.failed")] == ["declined"]


def test_a_success_after_the_payment_was_reported_failed_is_announced_and_flagged(localstripe):
    # given a payment reported failed (Stripe cancelled it) whose money was taken after all
    intent = _pending(localstripe)
    pi = _charged_at_stripe(localstripe, intent)
    canceled = dict(localstripe.client.v1.payment_intents.retrieve(pi).to_dict(), status="canceled")
    _post(event_body("payment_intent.canceled", canceled))

    # when the success arrives last
    response = _post(localstripe.event_for("payment_intent.succeeded", pi))

    # then the charge is recorded and announced (orders refunds a cancelled order's capture at
    # once), and staff see the payment flagged
    assert response.json()["outcome"] == "paid_after_failure"
    intent.refresh_from_db()
    assert (intent.status, intent.attention) == (PaymentIntent.Status.SUCCEEDED, "paid_after_failure")
    assert all_event_types() == ["payment.failed", "payment.succeeded"]


def test_an_amount_other_than_the_orders_is_flagged_and_never_confirmed(localstripe):
    intent = _pending(localstripe, amount="25.00")
    pi = _charged_at_stripe(localstripe, intent, cents=100)

    response = _post(localstripe.event_for("payment_intent.succeeded", pi))

    assert response.json()["outcome"] == "flagged_amount_mismatch"
    intent.refresh_from_db()
    assert (intent.status, intent.attention) == (PaymentIntent.Status.PENDING, "amount_mismatch")
    assert all_event_types() == []


def _paid(localstripe) -> PaymentIntent:
    envelope = factories.payment_requested(amount="40.00", payment_method_token=localstripe.payment_method())
    deliver("payments", envelope)
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def _charge_refunded_body(localstripe, intent: PaymentIntent) -> bytes:
    pi = localstripe.client.v1.payment_intents.retrieve(intent.provider_charge_id).to_dict()
    charge = localstripe.client.v1.charges.retrieve(pi["latest_charge"]["id"]).to_dict()
    charge.pop("refunds", None)  # Stripe's charge no longer lists its refunds (since 2022-11-15)
    return event_body("charge.refunded", charge)


def test_a_refund_made_at_stripes_dashboard_is_recorded_and_announced_once(localstripe):
    # given a payment of 40.00 refunded by 15.00 at Stripe's dashboard
    intent = _paid(localstripe)
    localstripe.client.v1.refunds.create(params={"payment_intent": intent.provider_charge_id, "amount": 1500})

    # when charge.refunded arrives twice under two ids
    first = _post(_charge_refunded_body(localstripe, intent))
    second = _post(_charge_refunded_body(localstripe, intent))

    # then one provider refund of 15.00 is recorded and announced
    assert (first.json()["outcome"], second.json()["outcome"]) == ("refund_recorded", "already_recorded")
    refund = Refund.objects.get(intent=intent)
    assert (refund.source, str(refund.amount)) == (Refund.Source.PROVIDER, "15.00")
    assert [event["amount"] for event in events("payment.refunded")] == ["15.00"]


def test_the_echo_of_payments_own_refund_records_nothing_more(localstripe):
    intent = _paid(localstripe)
    deliver("payments", factories.refund_requested(order_id=str(intent.order_id), amount="10.00"))

    response = _post(_charge_refunded_body(localstripe, intent))

    assert response.json()["outcome"] == "already_recorded"
    assert Refund.objects.filter(intent=intent).count() == 1
    assert len(events("payment.refunded")) == 1


def test_a_dispute_flags_the_payment_for_staff(localstripe):
    intent = _paid(localstripe)
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 4000,
        "currency": "eur",
        "payment_intent": intent.provider_charge_id,
        "reason": "fraudulent",
        "status": "needs_response",
    }

    response = _post(event_body("charge.dispute.created", dispute))

    assert response.json()["outcome"] == "flagged_disputed"
    intent.refresh_from_db()
    assert intent.attention == "disputed"
    assert "fraudulent" in intent.attention_detail


def test_an_event_for_an_unknown_payment_intent_is_unprocessable(localstripe):
    intent = _pending(localstripe)
    pi = localstripe.client.v1.payment_intents.retrieve(_charged_at_stripe(localstripe, intent)).to_dict()
    pi.update(id="pi_unknown", metadata={})

    response = _post(event_body("payment_intent.succeeded", pi))

    assert_problem(response, status=422, code="webhook_unprocessable")
    assert not WebhookEvent.objects.exists()
