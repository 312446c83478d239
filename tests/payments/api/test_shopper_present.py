"""The shopper-present endpoints of payments, against the sandbox: paying an order again
(POST /api/v1/payments/orders/<order>/attempts/, by the order's retry key or as its signed-in
shopper) and the shopper's return from 3-D Secure (GET or POST /api/v1/payments/return/). Bad
input is a problem body and changes nothing; a caller without the key or the account learns
nothing about the order."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.events.handlers import deliver
from apps.payments.models import OutboxEvent, PaymentIntent, SandboxCharge
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


# --- Paying again by the order's retry key (a guest's way; orders shows the key) -------------------


def _key_hash(retry_key: str) -> str:
    return hashlib.sha256(retry_key.encode()).hexdigest()


def _guest_waiting(retry_key: str, token: str = "tok_decline", **overrides) -> PaymentIntent:
    """A guest order's payment (no customer) waiting for another method, as orders asks for it:
    with the SHA-256 of the order's retry key."""
    return _waiting(token, customer_id=None, retry_key_sha256=_key_hash(retry_key), **overrides)


def _snapshot(intent: PaymentIntent) -> tuple:
    """Everything a retry could change: the payment, the provider's books, the events."""
    row = PaymentIntent.objects.get(pk=intent.pk)
    return (
        row.status,
        row.attempt,
        row.attempts,
        row.provider_intent_id,
        row.failure_code,
        row.updated_at,
        SandboxCharge.objects.count(),
        OutboxEvent.objects.count(),
    )


def _shown(body: dict) -> dict:
    """A problem body without what differs per request (its instance, trace)."""
    return {key: body[key] for key in ("type", "title", "status", "detail", "code") if key in body}


def test_a_guest_pays_again_with_the_orders_retry_key():
    retry_key = secrets.token_urlsafe(32)
    intent = _guest_waiting(retry_key)
    assert intent.retry_key_hash == _key_hash(retry_key)

    answer = APIClient().post(_attempts_url(intent), {"payment_method_token": "tok_visa", "retry_key": retry_key})

    assert answer.status_code == 200, answer.json()
    assert (answer.json()["status"], answer.json()["attempt"]) == ("succeeded", 2)
    assert [event["order_id"] for event in events("payment.succeeded")] == [str(intent.order_id)]


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("no key, not signed in", 401, "not_authenticated"),
        ("a blank key", 400, "invalid"),
        ("a wrong key", 404, "payment_not_found"),
        ("another order's key", 404, "payment_not_found"),
        ("a signed-in stranger", 404, "payment_not_found"),
        ("a signed-in stranger with a wrong key", 404, "payment_not_found"),
    ],
)
def test_without_the_orders_retry_key_nobody_pays_again_or_learns_about_it(client_for, caller, status, code):
    retry_key, other_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    intent = _guest_waiting(retry_key)
    _guest_waiting(other_key)
    before = _snapshot(intent)
    body = {"payment_method_token": "tok_visa"}
    client = APIClient()
    if caller == "a blank key":
        body["retry_key"] = ""
    elif caller == "a wrong key":
        body["retry_key"] = secrets.token_urlsafe(32)
    elif caller == "another order's key":
        body["retry_key"] = other_key
    elif caller.startswith("a signed-in stranger"):
        client = client_for(uuid.uuid4())
        if caller.endswith("wrong key"):
            body["retry_key"] = retry_key[:-1] + ("A" if retry_key[-1] != "A" else "B")

    answer = client.post(_attempts_url(intent), body)

    problem = assert_problem(answer, status=status, code=code)
    assert "payment_status" not in problem  # nothing about the order's payment
    assert _snapshot(intent) == before
    if status == 404:
        # the same answer as for an order that does not exist at all
        unknown = APIClient().post(f"/api/v1/payments/orders/{uuid.uuid4()}/attempts/", {**body, "retry_key": "x"})
        assert _shown(problem) == _shown(assert_problem(unknown, status=404, code="payment_not_found"))


def test_the_key_after_the_deadline_or_once_paid_is_a_409_while_a_wrong_key_still_learns_nothing():
    retry_key = secrets.token_urlsafe(32)
    intent = _guest_waiting(retry_key)
    wrong = {"payment_method_token": "tok_visa", "retry_key": secrets.token_urlsafe(32)}
    right = {"payment_method_token": "tok_visa", "retry_key": retry_key}

    # past the deadline: the key's holder is told so; nothing is charged
    PaymentIntent.objects.filter(pk=intent.pk).update(pay_by=timezone.now() - timedelta(seconds=1))
    before = _snapshot(intent)
    assert_problem(APIClient().post(_attempts_url(intent), right), status=409, code="payment_deadline_passed")
    assert_problem(APIClient().post(_attempts_url(intent), wrong), status=404, code="payment_not_found")
    assert _snapshot(intent) == before

    # paid: no further attempt, for the key's holder or anyone
    PaymentIntent.objects.filter(pk=intent.pk).update(pay_by=timezone.now() + timedelta(minutes=5))
    assert APIClient().post(_attempts_url(intent), right).status_code == 200
    before = _snapshot(intent)
    paid = assert_problem(APIClient().post(_attempts_url(intent), right), status=409, code="payment_not_retryable")
    assert paid["payment_status"] == "succeeded"
    assert "payment_status" not in assert_problem(
        APIClient().post(_attempts_url(intent), wrong), status=404, code="payment_not_found"
    )
    assert _snapshot(intent) == before
    assert len(events("payment.succeeded")) == 1


def test_a_key_sent_decides_even_for_the_signed_in_owner(client_for):
    retry_key = secrets.token_urlsafe(32)
    intent = _waiting("tok_decline", retry_key_sha256=_key_hash(retry_key))  # a shopper's order
    before = _snapshot(intent)
    owner = client_for(intent.customer_id)

    wrong = owner.post(_attempts_url(intent), {"payment_method_token": "tok_visa", "retry_key": "not-the-key"})

    assert_problem(wrong, status=404, code="payment_not_found")
    assert _snapshot(intent) == before
    # the owner with the key, or without any, pays
    assert owner.post(_attempts_url(intent), {"payment_method_token": "tok_decline"}).status_code == 402
    paid = owner.post(_attempts_url(intent), {"payment_method_token": "tok_visa", "retry_key": retry_key})
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded"


@pytest.mark.parametrize("sent", [None, "", "not-a-sha256", "z" * 64])
def test_without_a_valid_hash_from_orders_no_key_pays_again(sent):
    # an order from before retry keys (no hash), or a hash payments cannot use
    overrides = {} if sent is None else {"retry_key_sha256": sent}
    intent = _waiting("tok_decline", customer_id=None, **overrides)
    before = _snapshot(intent)

    for key in ("", "A" * 64, "not-a-sha256", secrets.token_urlsafe(32)):
        answer = APIClient().post(_attempts_url(intent), {"payment_method_token": "tok_visa", "retry_key": key or "x"})
        assert_problem(answer, status=404, code="payment_not_found")

    assert PaymentIntent.objects.get(pk=intent.pk).retry_key_hash == ""
    assert _snapshot(intent) == before
