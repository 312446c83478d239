"""Reconciliation with Stripe (localstripe): a success or failure whose webhook and charge answer
were both lost, and a refund made at Stripe's dashboard without a webhook, are repaired and
announced once; a PaymentIntent of ours with no payment here is shown as drift."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest
import stripe
from django.core.management import call_command
from django.utils import timezone

from apps.core.events.handlers import deliver
from apps.payments.models import PaymentIntent, ProviderDrift, ReconciliationCursor, Refund
from apps.payments.services.reconciliation import provider_reconcile
from tests.localstripe import CARD_DECLINED_ON_CHARGE
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _pending(*, amount: str = "25.00", age_seconds: int = 0) -> PaymentIntent:
    payload = factories.payment_requested_payload(amount=amount)
    intent = PaymentIntent.objects.create(
        order_id=payload["order_id"],
        order_number=payload["order_number"],
        customer_id=payload["customer_id"],
        amount=payload["amount"],
        currency="EUR",
        idempotency_key=payload["idempotency_key"],
        provider="stripe",
    )
    if age_seconds:
        PaymentIntent.objects.filter(pk=intent.pk).update(created_at=timezone.now() - timedelta(seconds=age_seconds))
    return intent


def _at_stripe(localstripe, *, key: str, card: str | None = None, cents: int = 2500) -> str:
    params = {
        "amount": cents,
        "currency": "eur",
        "payment_method": localstripe.payment_method(card) if card else localstripe.payment_method(),
        "payment_method_types": ["card"],
        "metadata": {"shopstack_idempotency_key": key},
    }
    created = localstripe.client.v1.payment_intents.create(params=params)
    with contextlib.suppress(stripe.CardError):
        localstripe.client.v1.payment_intents.confirm(created.id)
    return created.id


@pytest.fixture
def recent_cursor(localstripe):
    """Start where this test starts: older PaymentIntents at localstripe belong to other tests."""
    ReconciliationCursor.objects.create(provider="stripe", created_gte=int(time.time()) - 1)


def test_a_success_nobody_told_payments_is_recorded_and_announced_once(localstripe, recent_cursor):
    # given a payment whose PaymentIntent succeeded at Stripe, its webhook and answer lost
    intent = _pending()
    pi = _at_stripe(localstripe, key=intent.idempotency_key)

    # when the reconciliation runs twice (the second finds nothing new)
    first = provider_reconcile()
    second = provider_reconcile()

    # then the payment succeeded once, the order heard of it once, and staff see the drift
    intent.refresh_from_db()
    assert (intent.status, intent.provider_charge_id) == (PaymentIntent.Status.SUCCEEDED, pi)
    assert [event["order_id"] for event in events("payment.succeeded")] == [str(intent.order_id)]
    assert first["missed_success"] == 1
    assert second["missed_success"] == 0
    assert ProviderDrift.objects.get(object_id=pi).kind == ProviderDrift.Kind.MISSED_SUCCESS


def test_a_decline_is_recorded_only_after_the_grace_left_to_the_charge_task(localstripe, recent_cursor, settings):
    settings.PAYMENTS_RECONCILE_GRACE_SECONDS = 600
    young = _pending()
    old = _pending(age_seconds=3600)
    _at_stripe(localstripe, key=young.idempotency_key, card=CARD_DECLINED_ON_CHARGE)
    _at_stripe(localstripe, key=old.idempotency_key, card=CARD_DECLINED_ON_CHARGE)

    provider_reconcile()

    young.refresh_from_db()
    old.refresh_from_db()
    assert young.status == PaymentIntent.Status.PENDING
    assert (old.status, old.failure_code) == (PaymentIntent.Status.FAILED, "card_declined")
    assert [event["order_id"] for event in events("payment.failed")] == [str(old.order_id)]
    # the young one keeps the cursor on itself, so the next run reads it again
    assert ReconciliationCursor.objects.get(provider="stripe").created_gte <= int(time.time())


def test_a_refund_made_at_stripe_without_a_webhook_is_recorded(localstripe, recent_cursor):
    envelope = factories.payment_requested(amount="40.00", payment_method_token=localstripe.payment_method())
    deliver("payments", envelope)
    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    localstripe.client.v1.refunds.create(params={"payment_intent": intent.provider_charge_id, "amount": 1500})

    found = provider_reconcile()

    assert found["missed_refund"] == 1
    assert Refund.objects.get(intent=intent).source == Refund.Source.PROVIDER
    assert [event["amount"] for event in events("payment.refunded")] == ["15.00"]


def test_a_payment_of_ours_unknown_here_is_drift_for_staff(localstripe, recent_cursor):
    pi = _at_stripe(localstripe, key="order-unknown-payment")

    call_command("reconcile_payments")

    drift = ProviderDrift.objects.get(object_id=pi)
    assert (drift.kind, drift.intent) == (ProviderDrift.Kind.UNKNOWN_PAYMENT, None)


def test_the_sandbox_has_nothing_to_reconcile():
    assert provider_reconcile() == {}
    assert not ReconciliationCursor.objects.exists()
