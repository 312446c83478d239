"""payments' stories with Stripe as the provider (localstripe): payment.requested charges the
shopper's payment method once, a decline or a card needing 3-D Secure is announced as
payment.failed, and refund.requested refunds through Stripe."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.events.handlers import deliver
from apps.payments.models import PaymentIntent, Refund
from tests.localstripe import CARD_3DS_REQUIRED, CARD_DECLINED_ON_CHARGE
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _paid(localstripe) -> PaymentIntent:
    envelope = factories.payment_requested(amount="49.90", payment_method_token=localstripe.payment_method())
    deliver("payments", envelope)
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def test_payment_requested_is_charged_at_stripe_once_and_announced(localstripe):
    # given a payment request with a payment method made at Stripe
    envelope = factories.payment_requested(amount="49.90", payment_method_token=localstripe.payment_method())

    # when payments handles it twice (a redelivery)
    deliver("payments", envelope)
    deliver("payments", envelope)

    # then one PaymentIntent of 4990 cents succeeded at Stripe, and the order heard of it once
    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    assert (intent.status, intent.provider, intent.card_last4) == (PaymentIntent.Status.SUCCEEDED, "stripe", "4242")
    at_stripe = localstripe.client.v1.payment_intents.retrieve(intent.provider_charge_id)
    assert (at_stripe.status, at_stripe.amount) == ("succeeded", 4990)
    assert [event["order_id"] for event in events("payment.succeeded")] == [str(intent.order_id)]


def test_a_decline_fails_the_payment(localstripe):
    envelope = factories.payment_requested(payment_method_token=localstripe.payment_method(CARD_DECLINED_ON_CHARGE))

    deliver("payments", envelope)

    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    assert (intent.status, intent.failure_code) == (PaymentIntent.Status.FAILED, "card_declined")
    assert [(e["reason_code"], e["attempt"]) for e in events("payment.failed")] == [("declined", 1)]


def test_a_card_needing_3d_secure_waits_for_the_shopper(localstripe, settings):
    envelope = factories.payment_requested(payment_method_token=localstripe.payment_method(CARD_3DS_REQUIRED))

    deliver("payments", envelope)

    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    assert intent.status == PaymentIntent.Status.REQUIRES_ACTION
    at_stripe = localstripe.client.v1.payment_intents.retrieve(intent.provider_intent_id)
    assert at_stripe.status == "requires_action"
    [action] = events("payment.action_required")
    assert action["client_secret"] == at_stripe.client_secret
    assert intent.client_secret_hash and at_stripe.client_secret not in str(PaymentIntent.objects.values().get())
    assert (action["attempt"], action["next_action_type"], action["return_url"]) == (
        1,
        "redirect_to_url",
        settings.PAYMENTS_RETURN_URL,
    )
    assert action["redirect_url"].startswith(localstripe.proxy.endpoint)
    assert events("payment.failed") == events("payment.succeeded") == []


def test_refund_requested_refunds_at_stripe_partially_and_once(localstripe):
    # given a payment of 49.90 taken through Stripe
    intent = _paid(localstripe)

    # when orders asks for 10.00 back, and the request is redelivered
    envelope = factories.refund_requested(order_id=str(intent.order_id), amount="10.00")
    deliver("payments", envelope)
    deliver("payments", envelope)

    # then Stripe holds one refund of 1000 cents and the order hears of it once
    refund = Refund.objects.get(intent=intent)
    assert (refund.status, refund.amount) == (Refund.Status.SUCCEEDED, Decimal("10.00"))
    at_stripe = localstripe.client.v1.refunds.list(params={"payment_intent": intent.provider_charge_id}).data
    assert [item.amount for item in at_stripe] == [1000]
    assert [event["amount"] for event in events("payment.refunded")] == ["10.00"]
