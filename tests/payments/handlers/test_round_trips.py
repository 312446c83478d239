"""What payments' worker costs its database per order: the round trips of payment.requested (the
intent recorded, the charge task sent) and of the charge task (the sandbox's charge, the Charge
row, payment.succeeded), as the split stack's worker runs them; and the paths the handler's
insert-first statement must still take (docs/benchmarks.md, payments' worker per order)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.core.db import atomic
from apps.core.events.handlers import deliver
from apps.core.services import db_alias
from apps.payments.models import Charge, PaymentIntent, SandboxCharge
from apps.payments.providers import ProviderError
from apps.payments.providers.sandbox import SandboxProvider
from apps.payments.tasks import charge_payment
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def sent(settings, monkeypatch) -> list[dict]:
    """The split shape: the charge task's message is what the handler hands to Celery."""
    settings.TASKS_RUN_IN_PROCESS = False
    messages: list[dict] = []
    monkeypatch.setattr(
        charge_payment, "apply_async", lambda args=None, kwargs=None, **options: messages.append(kwargs)
    )
    return messages


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs what waits for payments' commit (the task's send) when the block ends, as a commit would."""
    return lambda: django_capture_on_commit_callbacks(using=db_alias("payments"), execute=True)


def _counted(run) -> list[str]:
    with CaptureQueriesContext(connections[db_alias("payments")]) as queries:
        run()
    return [query["sql"] for query in queries.captured_queries]


def _in_worker(kwargs: dict) -> None:
    charge_payment.push_request(retries=0, is_eager=False)
    try:
        charge_payment.run(**kwargs)
    finally:
        charge_payment.pop_request()


def test_the_request_and_the_charge_take_four_and_eight_round_trips(sent, committed):
    envelope = factories.payment_requested()

    with committed():
        requested = _counted(lambda: deliver("payments", envelope))
    # The delivery's transaction (a savepoint here, in the test's transaction), the inbox row,
    # the intent's INSERT, its end. Before: a locked read first, and a savepoint around the INSERT (7).
    assert len(requested) == 4, requested
    [message] = sent

    charged = _counted(lambda: _in_worker(message))
    # The transaction, the intent locked, the sandbox's book read and written once, the Charge,
    # the intent, the outbox row, its end. Before: 11 (the sandbox's savepoint, INSERT then UPDATE).
    assert len(charged) == 8, charged
    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    assert (intent.status, intent.attempts) == (PaymentIntent.Status.SUCCEEDED, 1)
    assert Charge.objects.get(intent=intent).provider_charge_id == SandboxCharge.objects.get().charge_id
    assert [event["payment_id"] for event in events("payment.succeeded")] == [str(intent.id)]


def test_a_redelivered_request_for_a_pending_payment_sends_its_charge_again_without_a_second_intent(sent, committed):
    payload = factories.payment_requested_payload()
    with committed():
        assert deliver("payments", factories.envelope("payment.requested", payload)) is True
    first = PaymentIntent.objects.get()

    # a new delivery (another event id) of the same order's request, with another amount
    with committed():
        assert deliver("payments", factories.envelope("payment.requested", {**payload, "amount": "1.00"})) is True

    again = PaymentIntent.objects.get()
    assert (again.id, again.amount, again.status) == (first.id, Decimal("49.90"), PaymentIntent.Status.PENDING)
    assert [message["intent_id"] for message in sent] == [str(first.id), str(first.id)]


def test_a_request_reusing_another_order_s_key_is_ignored_and_the_delivery_still_commits(sent, committed):
    first = factories.payment_requested_payload()
    with committed():
        assert deliver("payments", factories.envelope("payment.requested", first)) is True
    other = factories.payment_requested_payload(idempotency_key=first["idempotency_key"])

    with committed():
        assert deliver("payments", factories.envelope("payment.requested", other)) is True

    assert [str(order_id) for order_id in PaymentIntent.objects.values_list("order_id", flat=True)] == [
        first["order_id"]
    ]
    assert len(sent) == 1


def test_a_key_reused_with_another_amount_leaves_the_caller_s_transaction_usable():
    sandbox = SandboxProvider()
    sandbox.charge(amount=Decimal("10.00"), currency="EUR", payment_method_token="tok_visa", idempotency_key="k-1")

    with atomic("payments"):
        with pytest.raises(ProviderError):
            sandbox.charge(
                amount=Decimal("11.00"), currency="EUR", payment_method_token="tok_visa", idempotency_key="k-1"
            )
        # the caller records the failure in the same transaction (as payment_charge does)
        assert SandboxCharge.objects.filter(idempotency_key="k-1").count() == 1
