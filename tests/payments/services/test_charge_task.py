"""The charge task in a worker (the split shape): a transient error is retried later with a
bounded, jittered backoff; the last retry fails the payment with provider_error."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from celery import Task
from celery.exceptions import Retry

from apps.payments.models import PaymentIntent
from apps.payments.tasks import _retry_countdown, charge_payment
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def pending() -> PaymentIntent:
    order_id = uuid.uuid4()
    return PaymentIntent.objects.create(
        order_id=order_id,
        customer_id=uuid.uuid4(),
        amount=Decimal("20.00"),
        currency="EUR",
        idempotency_key=f"order-{order_id}",
        provider="sandbox",
    )


@pytest.fixture
def in_worker(monkeypatch):
    """Run charge_payment as a worker would (not eagerly), capturing its retry request."""
    retried: list[int] = []

    def retry(*, countdown: int) -> Retry:
        retried.append(countdown)
        return Retry("retry", when=countdown)

    monkeypatch.setattr(charge_payment, "retry", retry)

    def run(*, retries: int, **kwargs) -> None:
        charge_payment.push_request(retries=retries, is_eager=False)
        try:
            charge_payment.run(**kwargs)
        finally:
            charge_payment.pop_request()

    run.retried = retried
    return run


def test_a_transient_error_in_a_worker_asks_celery_to_retry_later(pending, in_worker, settings):
    settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES = 100
    settings.PAYMENTS_PROVIDER_MAX_RETRIES = 5

    with pytest.raises(Retry):
        in_worker(retries=2, intent_id=str(pending.id), payment_method_token="tok_transient")

    [countdown] = in_worker.retried
    assert 0 <= countdown <= settings.PAYMENTS_RETRY_BACKOFF_SECONDS * 2**2
    pending.refresh_from_db()
    assert (pending.status, pending.attempts) == (PaymentIntent.Status.PENDING, 1)
    assert events("payment.failed") == []


def test_the_last_retry_in_a_worker_fails_the_payment(pending, in_worker, settings):
    settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES = 100
    settings.PAYMENTS_PROVIDER_MAX_RETRIES = 5

    in_worker(retries=5, intent_id=str(pending.id), payment_method_token="tok_transient")

    assert in_worker.retried == []
    pending.refresh_from_db()
    assert (pending.status, pending.failure_code) == (PaymentIntent.Status.FAILED, "provider_unavailable")
    assert events("payment.failed")[0]["reason_code"] == "provider_error"


def test_the_backoff_stays_below_the_queue_visibility_window(settings):
    settings.PAYMENTS_RETRY_BACKOFF_MAX_SECONDS = 10_000
    countdowns = [_retry_countdown(retries) for retries in range(20) for _ in range(5)]
    assert max(countdowns) < settings.CELERY_MAX_RETRY_COUNTDOWN


def test_the_token_stays_out_of_the_task_messages_logged_arguments(monkeypatch):
    sent = {}
    monkeypatch.setattr(Task, "apply_async", lambda self, args=None, kwargs=None, **options: sent.update(options))

    charge_payment.apply_async(kwargs={"intent_id": str(uuid.uuid4()), "payment_method_token": "tok_visa"})

    assert "tok_visa" not in sent["kwargsrepr"] and "<redacted>" in sent["kwargsrepr"]
