"""payment.requested: the charge is taken once per order, whatever the provider says and however
often the event arrives; every outcome is announced as payment.succeeded or payment.failed."""

from __future__ import annotations

import pytest

from apps.core.db import atomic
from apps.core.events import publish
from apps.core.events.handlers import deliver
from apps.orders.models import OutboxEvent as OrdersOutboxEvent
from apps.payments.models import Charge, PaymentIntent, SandboxCharge
from tests.payments import factories
from tests.payments.helpers import all_event_types, events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _intent(envelope) -> PaymentIntent:
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def test_a_successful_charge_publishes_payment_succeeded():
    # given a payment request with a good card token
    envelope = factories.payment_requested(amount="49.90", currency="EUR", payment_method_token="tok_visa")

    # when payments handles it
    assert deliver("payments", envelope) is True

    # then the card is charged once and the order hears of it
    intent = _intent(envelope)
    assert intent.status == PaymentIntent.Status.SUCCEEDED
    assert (intent.card_brand, intent.card_last4, intent.attempts) == ("visa", "4242", 1)
    assert intent.charge.amount == intent.amount
    assert intent.charge.provider_charge_id == intent.provider_charge_id
    assert events("payment.succeeded") == [
        {"order_id": str(intent.order_id), "payment_id": str(intent.id), "amount": "49.90", "currency": "EUR"}
    ]
    assert all_event_types() == ["payment.succeeded"]
    assert SandboxCharge.objects.get().idempotency_key == envelope.payload["idempotency_key"]


def test_payment_requested_published_by_orders_reaches_payments_after_orders_commits():
    payload = factories.payment_requested_payload()

    with atomic("orders"):
        publish(producer="orders", event_type="payment.requested", payload=payload)
        # nothing happens before orders' transaction commits
        assert not PaymentIntent.objects.exists()

    intent = PaymentIntent.objects.get(order_id=payload["order_id"])
    assert intent.status == PaymentIntent.Status.SUCCEEDED
    assert [event["order_id"] for event in events("payment.succeeded")] == [payload["order_id"]]
    assert OrdersOutboxEvent.objects.get(event_type="payment.requested").sent_at is not None


@pytest.mark.parametrize(
    ("token", "failure_code", "reason_code"),
    [
        ("tok_decline", "card_declined", "declined"),
        ("tok_insufficient_funds", "insufficient_funds", "insufficient_funds"),
        ("tok_no_such_token", "invalid_payment_method", "invalid_payment_method"),
    ],
)
def test_a_declined_card_publishes_payment_failed_and_records_no_charge(token, failure_code, reason_code):
    envelope = factories.payment_requested(payment_method_token=token)

    deliver("payments", envelope)

    intent = _intent(envelope)
    assert intent.status == PaymentIntent.Status.FAILED
    assert intent.failure_code == failure_code
    assert not Charge.objects.exists()
    [failed] = events("payment.failed")
    assert failed == {
        "order_id": str(intent.order_id),
        "payment_id": str(intent.id),
        "customer_id": envelope.payload["customer_id"],
        "reason_code": reason_code,
        "message": intent.failure_message,
        "attempt": 1,
        "failure_code": failure_code,
    }
    assert events("payment.succeeded") == []


def test_a_transient_provider_error_is_retried_until_the_one_charge_succeeds(settings):
    settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES = 2
    settings.PAYMENTS_PROVIDER_MAX_RETRIES = 5
    envelope = factories.payment_requested(payment_method_token="tok_transient")

    deliver("payments", envelope)

    intent = _intent(envelope)
    assert intent.status == PaymentIntent.Status.SUCCEEDED
    assert intent.attempts == 3  # two simulated outages, then the charge
    assert "TransientProviderError" in intent.last_error
    assert Charge.objects.count() == 1
    sandbox = SandboxCharge.objects.get()
    assert (sandbox.transient_failures, sandbox.outcome) == (2, "succeeded")
    assert len(events("payment.succeeded")) == 1
    assert events("payment.failed") == []


def test_a_lasting_provider_outage_fails_the_payment_after_the_last_retry(settings):
    settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES = 100
    settings.PAYMENTS_PROVIDER_MAX_RETRIES = 3
    envelope = factories.payment_requested(payment_method_token="tok_transient")

    deliver("payments", envelope)

    intent = _intent(envelope)
    assert intent.status == PaymentIntent.Status.FAILED
    assert intent.failure_code == "provider_unavailable"
    assert intent.attempts == 4  # the first try and three retries
    assert not Charge.objects.exists()
    [failed] = events("payment.failed")
    assert failed["reason_code"] == "provider_error"


def test_the_same_envelope_delivered_twice_charges_once():
    envelope = factories.payment_requested()

    assert deliver("payments", envelope) is True
    assert deliver("payments", envelope) is False

    assert Charge.objects.count() == 1
    assert SandboxCharge.objects.count() == 1
    assert len(events("payment.succeeded")) == 1


def test_two_envelopes_asking_to_pay_one_order_charge_once():
    payload = factories.payment_requested_payload()
    first = factories.envelope("payment.requested", payload)
    second = factories.envelope("payment.requested", dict(payload))
    assert first.id != second.id

    assert deliver("payments", first) is True
    assert deliver("payments", second) is True

    intent = PaymentIntent.objects.get()
    assert intent.attempts == 1  # the second request found the payment final: no provider call
    assert Charge.objects.count() == 1
    assert all_event_types() == ["payment.succeeded"]


def test_a_redelivery_while_the_charge_is_queued_still_charges_once(monkeypatch):
    # given the charge tasks are held back, so both requests find the payment pending
    queued = []
    monkeypatch.setattr("apps.core.tasks._run_in_process", lambda task, args, kwargs: queued.append((task, kwargs)))
    payload = factories.payment_requested_payload()
    deliver("payments", factories.envelope("payment.requested", payload))
    deliver("payments", factories.envelope("payment.requested", dict(payload)))
    assert PaymentIntent.objects.get().status == PaymentIntent.Status.PENDING
    assert len(queued) == 2

    # when both queued tasks run
    for task, kwargs in queued:
        task.apply(kwargs=kwargs, throw=True)

    # then the second found the payment final
    intent = PaymentIntent.objects.get()
    assert (intent.status, intent.attempts) == (PaymentIntent.Status.SUCCEEDED, 1)
    assert SandboxCharge.objects.count() == 1
    assert len(events("payment.succeeded")) == 1


def test_an_idempotency_key_reused_for_another_order_is_refused():
    first = factories.payment_requested()
    deliver("payments", first)

    second = factories.payment_requested(idempotency_key=first.payload["idempotency_key"])
    deliver("payments", second)

    assert list(PaymentIntent.objects.values_list("order_id", flat=True)) == [_intent(first).order_id]
    assert Charge.objects.count() == 1


@pytest.mark.parametrize(
    "override",
    [
        {"amount": "-1.00"},
        {"amount": "12.345"},
        {"amount": "abc"},
        {"currency": "EURO"},
        {"currency": "XXX"},  # ISO 4217's "no currency": three capitals are not enough
        {"currency": "XTS"},  # ISO 4217's testing code
        {"order_id": "not-a-uuid"},
    ],
)
def test_an_unusable_request_is_dropped_without_a_charge_or_an_event(override):
    envelope = factories.payment_requested(**override)

    assert deliver("payments", envelope) is True  # consumed: retrying cannot make it valid

    assert not PaymentIntent.objects.exists()
    assert not SandboxCharge.objects.exists()
    assert all_event_types() == []


def test_a_card_number_sent_as_a_token_is_refused_and_never_stored_or_logged(caplog):
    card_number = "4242 4242 4242 4242"
    envelope = factories.payment_requested(payment_method_token=card_number)

    deliver("payments", envelope)

    intent = _intent(envelope)
    assert (intent.status, intent.failure_code) == (PaymentIntent.Status.FAILED, "invalid_payment_method")
    assert not SandboxCharge.objects.exists()  # the provider was never called with it
    assert events("payment.failed")[0]["reason_code"] == "invalid_payment_method"
    assert "4242 4242" not in caplog.text and "4242424242424242" not in caplog.text
