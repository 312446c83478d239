"""refund.requested: a refund is made once per refund id, never beyond what was captured, and
announced as payment.refunded (or payment.refund_failed when refused)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.events.handlers import deliver
from apps.payments.models import Charge, PaymentIntent, Refund, SandboxCharge, SandboxRefund
from apps.payments.providers import TransientProviderError
from apps.payments.providers.sandbox import SandboxProvider
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def paid() -> PaymentIntent:
    """A payment captured through the sandbox (so the provider knows its charge)."""
    envelope = factories.payment_requested(amount="49.90", currency="EUR")
    deliver("payments", envelope)
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def _charge(intent: PaymentIntent) -> Charge:
    return Charge.objects.get(intent=intent)


def test_a_partial_refund_goes_through_and_publishes_payment_refunded(paid):
    envelope = factories.refund_requested(order_id=str(paid.order_id), amount="10.00")

    deliver("payments", envelope)

    refund = Refund.objects.get()
    assert (refund.status, refund.amount, refund.refund_id) == (
        "succeeded",
        Decimal("10.00"),
        envelope.payload["refund_id"],
    )
    charge = _charge(paid)
    assert (charge.amount_refunded, charge.status) == (Decimal("10.00"), "partially_refunded")
    sandbox_refund = SandboxRefund.objects.get()
    assert sandbox_refund.idempotency_key == envelope.payload["refund_id"]
    assert refund.provider_refund_id == sandbox_refund.refund_id
    assert events("payment.refunded") == [
        {
            "order_id": str(paid.order_id),
            "payment_id": str(paid.id),
            "refund_id": envelope.payload["refund_id"],
            "customer_id": str(paid.customer_id),
            "amount": "10.00",
            "currency": "EUR",
        }
    ]


def test_a_full_refund_marks_the_charge_refunded(paid):
    deliver("payments", factories.refund_requested(order_id=str(paid.order_id), amount="49.90"))

    assert _charge(paid).status == "refunded"
    assert SandboxCharge.objects.get().amount_refunded == Decimal("49.90")


def test_a_refund_larger_than_captured_is_refused_and_changes_nothing(paid):
    envelope = factories.refund_requested(order_id=str(paid.order_id), amount="50.00")

    deliver("payments", envelope)

    assert (_charge(paid).amount_refunded, _charge(paid).status) == (Decimal("0.00"), "succeeded")
    assert not SandboxRefund.objects.exists()
    assert events("payment.refunded") == []
    refund = Refund.objects.get()
    assert (refund.status, refund.failure_code) == ("rejected", "exceeds_capture")
    [failed] = events("payment.refund_failed")
    assert (failed["refund_id"], failed["reason_code"]) == (envelope.payload["refund_id"], "exceeds_capture")
    assert PaymentIntent.objects.get(pk=paid.pk).status == PaymentIntent.Status.SUCCEEDED


def test_refunds_together_cannot_exceed_the_capture(paid):
    deliver("payments", factories.refund_requested(order_id=str(paid.order_id), amount="40.00"))
    deliver("payments", factories.refund_requested(order_id=str(paid.order_id), amount="10.00"))

    assert _charge(paid).amount_refunded == Decimal("40.00")
    assert sorted(Refund.objects.values_list("status", flat=True)) == ["rejected", "succeeded"]
    assert len(events("payment.refunded")) == 1


def test_a_refund_requested_twice_refunds_once(paid):
    payload = factories.refund_requested_payload(order_id=str(paid.order_id), amount="5.00")

    deliver("payments", factories.envelope("refund.requested", payload))
    deliver("payments", factories.envelope("refund.requested", dict(payload)))

    assert Refund.objects.count() == 1
    assert SandboxRefund.objects.count() == 1
    assert _charge(paid).amount_refunded == Decimal("5.00")
    assert len(events("payment.refunded")) == 1


@pytest.mark.parametrize(
    ("override", "reason_code"),
    [({"currency": "USD"}, "currency_mismatch"), ({"amount": "0.00"}, "invalid_amount")],
)
def test_a_refund_in_another_currency_or_without_an_amount_is_refused(paid, override, reason_code):
    deliver("payments", factories.refund_requested(order_id=str(paid.order_id), **override))

    assert Refund.objects.get().failure_code == reason_code
    assert _charge(paid).amount_refunded == Decimal("0.00")
    assert events("payment.refund_failed")[0]["reason_code"] == reason_code


def test_a_refund_of_an_order_without_a_captured_payment_is_refused():
    declined = factories.payment_requested(payment_method_token="tok_decline")
    deliver("payments", declined)
    deliver("payments", factories.refund_requested(order_id=declined.payload["order_id"]))
    unknown = factories.refund_requested(order_id="7f1f6c9e-3f0e-4c1e-9a51-0d9f1d2c3b4a")
    deliver("payments", unknown)

    assert Refund.objects.get().failure_code == "not_captured"
    assert [event["reason_code"] for event in events("payment.refund_failed")] == ["not_captured", "not_captured"]
    assert not SandboxRefund.objects.exists()


def test_a_transient_refund_error_is_retried_with_the_same_key(paid, monkeypatch):
    original = SandboxProvider.refund
    calls = []

    def flaky(self, **kwargs):
        calls.append(kwargs["idempotency_key"])
        if len(calls) == 1:
            raise TransientProviderError("timeout")
        return original(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "refund", flaky)
    envelope = factories.refund_requested(order_id=str(paid.order_id), amount="10.00")

    deliver("payments", envelope)

    assert calls == [envelope.payload["refund_id"]] * 2
    refund = Refund.objects.get()
    assert (refund.status, refund.attempts) == ("succeeded", 2)
    assert len(events("payment.refunded")) == 1
