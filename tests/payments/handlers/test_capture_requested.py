"""payment.capture_requested and payment.release_requested (capture at shipment), over the sandbox:
a manual payment is only authorized; one capture per authorization, idempotent per request id;
what cannot be captured is refused with payment.capture_failed and changes no money; a transient
provider error is retried with the same key until the capture goes through."""

from __future__ import annotations

import uuid

import pytest

from apps.core.events.handlers import deliver
from apps.orders.contracts import events as orders
from apps.payments.models import CaptureRequest, Charge, PaymentIntent, SandboxCharge
from apps.payments.providers import TransientProviderError
from apps.payments.providers.sandbox import SandboxProvider
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _authorized(**overrides) -> PaymentIntent:
    envelope = factories.payment_requested(capture="manual", amount="49.90", **overrides)
    assert deliver("payments", envelope) is True
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def _request(event_type: str, intent: PaymentIntent, **payload) -> bool:
    body = {"order_id": str(intent.order_id), "order_number": intent.order_number, "reason": "shipped", **payload}
    return deliver("payments", factories.envelope(event_type, body))


def test_a_manual_payment_is_authorized_not_charged():
    intent = _authorized()

    assert (intent.status, intent.capture_method, intent.capture_status) == ("succeeded", "manual", "authorized")
    assert not Charge.objects.filter(intent=intent).exists()
    assert events("payment.authorized") == [
        {"order_id": str(intent.order_id), "payment_id": str(intent.id), "amount": "49.90", "currency": "EUR"}
    ]
    assert events("payment.succeeded") == []


def test_a_capture_is_made_once_per_request_id_and_a_second_capture_is_refused():
    intent = _authorized()
    key = f"order-{intent.order_id}-capture"

    assert _request(orders.PAYMENT_CAPTURE_REQUESTED, intent, request_id=key, amount="30.00", currency="EUR")
    # the same request delivered again (a new envelope): answered once
    assert _request(orders.PAYMENT_CAPTURE_REQUESTED, intent, request_id=key, amount="30.00", currency="EUR")
    # another capture of the same authorization: refused, nothing taken
    assert _request(orders.PAYMENT_CAPTURE_REQUESTED, intent, request_id="another", amount="10.00", currency="EUR")

    intent.refresh_from_db()
    assert intent.capture_status == "captured"
    assert [c.amount for c in Charge.objects.filter(intent=intent)] == [30]
    assert SandboxCharge.objects.get(charge_id=intent.provider_charge_id).captured == 30
    [captured] = events("payment.captured")
    assert (captured["amount"], captured["released"], captured["capture_id"]) == ("30.00", "19.90", key)
    [refused] = events("payment.capture_failed")
    assert (refused["capture_id"], refused["reason_code"]) == ("another", "not_authorized")
    assert CaptureRequest.objects.get(request_id="another").status == "rejected"


@pytest.mark.parametrize(("amount", "currency"), [("49.91", "EUR"), ("10.00", "USD"), ("-1", "EUR"), ("lots", "EUR")])
def test_a_capture_of_more_than_the_authorization_or_in_another_currency_is_refused(amount, currency):
    intent = _authorized()

    _request(orders.PAYMENT_CAPTURE_REQUESTED, intent, request_id="too-much", amount=amount, currency=currency)

    intent.refresh_from_db()
    assert intent.capture_status == "authorized"
    assert [e["reason_code"] for e in events("payment.capture_failed")] == ["invalid_amount"]
    assert SandboxCharge.objects.get(charge_id=intent.provider_charge_id).outcome == "authorized"


def test_a_capture_for_an_order_without_a_payment_is_refused():
    body = {"order_id": str(uuid.uuid4()), "request_id": "nothing", "amount": "5.00", "currency": "EUR"}

    deliver("payments", factories.envelope(orders.PAYMENT_CAPTURE_REQUESTED, body))

    [refused] = events("payment.capture_failed")
    assert (refused["payment_id"], refused["reason_code"]) == ("", "not_authorized")
    assert not CaptureRequest.objects.exists()


def test_a_release_cancels_the_authorization_once():
    intent = _authorized()

    _request(orders.PAYMENT_RELEASE_REQUESTED, intent, request_id="let-go")
    _request(orders.PAYMENT_RELEASE_REQUESTED, intent, request_id="let-go")

    intent.refresh_from_db()
    assert intent.capture_status == "released"
    assert SandboxCharge.objects.get(charge_id=intent.provider_charge_id).outcome == "canceled"
    assert [e["release_id"] for e in events("payment.released")] == ["let-go"]
    assert not Charge.objects.filter(intent=intent).exists()


def test_a_transient_provider_error_is_retried_with_the_same_key(monkeypatch):
    intent = _authorized()
    real_capture = SandboxProvider.capture
    keys: list[str] = []

    def flaky(self, **kwargs):
        keys.append(kwargs["idempotency_key"])
        if len(keys) < 3:
            raise TransientProviderError("timed out")
        return real_capture(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "capture", flaky)

    _request(orders.PAYMENT_CAPTURE_REQUESTED, intent, request_id="retry-me", amount="49.90", currency="EUR")

    request = CaptureRequest.objects.get(request_id="retry-me")
    assert (request.status, request.attempts) == ("succeeded", 3)
    assert keys == ["retry-me"] * 3
    assert Charge.objects.get(intent=intent).amount == intent.amount
