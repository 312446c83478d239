"""The shopper-present endpoints of payments, against the sandbox: paying an order again
(POST /api/v1/payments/orders/<order>/attempts/) and the shopper's return from 3-D Secure
(GET or POST /api/v1/payments/return/). Bad input is a problem body and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.events.handlers import deliver
from apps.payments.models import PaymentIntent, SandboxCharge
from apps.payments.providers import ProviderError, get_provider
from tests.payments import factories
from tests.payments.helpers import assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _waiting(token: str = "tok_3ds_required", **overrides) -> PaymentIntent:
    pay_by = (timezone.now() + timedelta(minutes=15)).isoformat()
    envelope = factories.payment_requested(payment_method_token=token, pay_by=pay_by, **overrides)
    deliver("payments", envelope)
    return PaymentIntent.objects.get(order_id=envelope.payload["order_id"])


def _attempts_url(intent: PaymentIntent) -> str:
    return f"/api/v1/payments/orders/{intent.order_id}/attempts/"


def test_a_card_number_for_a_token_is_refused_and_changes_nothing(client_for):
    intent = _waiting("tok_decline")

    answer = client_for(intent.customer_id).post(_attempts_url(intent), {"payment_method_token": "4242 4242 4242 4242"})

    assert_problem(answer, status=400, code="invalid")
    intent.refresh_from_db()
    assert (intent.status, intent.attempt) == (PaymentIntent.Status.FAILED, 1)


def test_a_retry_needs_the_orders_shopper_and_a_signed_in_one(client_for):
    intent = _waiting("tok_decline")

    assert_problem(
        client_for(uuid.uuid4()).post(_attempts_url(intent), {"payment_method_token": "tok_visa"}),
        status=404,
        code="payment_not_found",
    )
    assert APIClient().post(_attempts_url(intent), {"payment_method_token": "tok_visa"}).status_code == 401
    assert PaymentIntent.objects.get(pk=intent.pk).attempt == 1


def test_a_retry_while_the_first_charge_is_still_running_is_a_conflict(client_for, monkeypatch):
    from apps.payments.services import charges

    monkeypatch.setattr(charges, "_enqueue_charge", lambda intent, token: None)  # the task not run yet
    intent = _waiting("tok_visa")

    answer = client_for(intent.customer_id).post(_attempts_url(intent), {"payment_method_token": "tok_visa"})

    assert assert_problem(answer, status=409, code="payment_not_retryable")["payment_status"] == "pending"


def test_a_new_attempt_asking_for_3ds_answers_what_the_client_needs(client_for):
    intent = _waiting("tok_decline")

    answer = client_for(intent.customer_id).post(_attempts_url(intent), {"payment_method_token": "tok_3ds_required"})

    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["status"], body["attempt"]) == ("requires_action", 2)
    assert body["next_action"]["type"] == "redirect_to_url" and body["client_secret"]
    [action] = events("payment.action_required")
    assert (action["attempt"], action["client_secret"]) == (2, body["client_secret"])
    # The return with that secret, by POST (a client that used Stripe.js): still waiting.
    intent.refresh_from_db()
    returned = APIClient().post(
        "/api/v1/payments/return/",
        {"payment_intent": intent.provider_intent_id, "payment_intent_client_secret": body["client_secret"]},
    )
    assert returned.json()["status"] == "requires_action"
    # Authenticated at the bank, the return records the payment once.
    get_provider().authenticate(intent_id=intent.provider_intent_id, client_secret=body["client_secret"])
    for _ in range(2):
        returned = APIClient().get(
            "/api/v1/payments/return/",
            {"payment_intent": intent.provider_intent_id, "payment_intent_client_secret": body["client_secret"]},
        )
        assert returned.json()["status"] == "succeeded"
    assert len(events("payment.succeeded")) == 1


def test_a_return_without_its_parameters_or_with_another_secret_is_refused():
    intent = _waiting()

    assert_problem(APIClient().get("/api/v1/payments/return/"), status=400, code="invalid")
    wrong = APIClient().get(
        "/api/v1/payments/return/",
        {"payment_intent": intent.provider_intent_id, "payment_intent_client_secret": "pi_secret_guess"},
    )
    assert_problem(wrong, status=404, code="payment_return_unknown")
    assert PaymentIntent.objects.get(pk=intent.pk).status == PaymentIntent.Status.REQUIRES_ACTION


def test_the_sandbox_bank_page_refuses_a_wrong_secret():
    intent = _waiting()

    answer = APIClient().get(
        "/api/v1/payments/sandbox/authenticate/",
        {"payment_intent": intent.provider_intent_id, "client_secret": "nope"},
    )

    assert_problem(answer, status=404, code="payment_return_unknown")


def test_a_retry_finding_the_open_attempt_authorized_meanwhile_records_it_and_takes_no_second_one(
    client_for, monkeypatch
):
    # given capture at shipment, an attempt waiting for 3-D Secure that the shopper completes at
    # the bank in another tab, and a provider that cannot cancel it now
    from apps.payments.providers.sandbox import SandboxProvider

    def cancel_fails(self, *, charge_id, idempotency_key=""):
        raise ProviderError("The provider is unreachable.", code="provider_unavailable")

    intent = _waiting("tok_3ds_required", capture="manual")
    bank = SandboxCharge.objects.get(charge_id=intent.provider_intent_id)
    get_provider().authenticate(intent_id=bank.charge_id, client_secret=bank.client_secret)
    monkeypatch.setattr(SandboxProvider, "cancel", cancel_fails)

    # when the shopper pays again with another card
    answer = client_for(intent.customer_id).post(_attempts_url(intent), {"payment_method_token": "tok_visa"})

    # then the authorization that went through is recorded and announced, and no second one is made
    assert assert_problem(answer, status=409, code="payment_not_retryable")["payment_status"] == "succeeded"
    intent.refresh_from_db()
    assert (intent.status, intent.capture_status, intent.attempt) == ("succeeded", "authorized", 1)
    assert intent.provider_charge_id == bank.charge_id
    assert SandboxCharge.objects.count() == 1
    assert len(events("payment.authorized")) == 1
