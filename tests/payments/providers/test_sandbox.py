"""The sandbox provider behaves like a real one for its test tokens, and honours idempotency
keys: one key, one outcome, never a second charge or refund."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.payments.models import SandboxCharge
from apps.payments.providers import (
    ActionRequired,
    ChargeResult,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    TransientProviderError,
    get_provider,
    looks_like_card_number,
)
from apps.payments.providers.sandbox import SandboxProvider

pytestmark = pytest.mark.django_db(databases="__all__")

EUR = "EUR"


@pytest.fixture
def sandbox() -> SandboxProvider:
    return SandboxProvider()


def _charge(sandbox, *, token="tok_visa", key="key-1", amount="10.00"):
    return sandbox.charge(amount=Decimal(amount), currency=EUR, payment_method_token=token, idempotency_key=key)


def test_the_configured_provider_is_the_sandbox_and_meets_the_interface():
    assert isinstance(get_provider(), SandboxProvider)
    assert isinstance(get_provider(), PaymentProvider)
    assert get_provider().name == "sandbox"


def test_one_key_is_one_charge(sandbox):
    first = _charge(sandbox)
    again = _charge(sandbox)

    assert first == again
    assert (first.card_brand, first.card_last4) == ("visa", "4242")
    assert SandboxCharge.objects.count() == 1


def test_a_key_reused_with_another_amount_is_an_error(sandbox):
    _charge(sandbox)
    with pytest.raises(ProviderError) as error:
        _charge(sandbox, amount="11.00")
    assert error.value.code == "idempotency_conflict"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_decline", "card_declined"),
        ("tok_insufficient_funds", "insufficient_funds"),
        ("tok_bogus", "invalid_payment_method"),
    ],
)
def test_declining_tokens_are_declined_and_the_decline_is_replayed(sandbox, token, code):
    with pytest.raises(PaymentDeclined) as first:
        _charge(sandbox, token=token)
    # the same key replays the decline, even with a good token now
    with pytest.raises(PaymentDeclined) as again:
        _charge(sandbox, token="tok_visa")
    assert first.value.code == again.value.code == code


def test_tok_transient_fails_n_times_per_key_then_succeeds(sandbox, settings):
    settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES = 2
    for _ in range(2):
        with pytest.raises(TransientProviderError):
            _charge(sandbox, token="tok_transient")
    result = _charge(sandbox, token="tok_transient")

    assert result.charge_id == SandboxCharge.objects.get().charge_id
    with pytest.raises(TransientProviderError):  # another key starts its own count
        _charge(sandbox, token="tok_transient", key="key-2")


def test_refunds_are_idempotent_and_bounded_by_the_charge(sandbox):
    charge = _charge(sandbox, amount="10.00")

    first = sandbox.refund(charge_id=charge.charge_id, amount=Decimal("6.00"), currency=EUR, idempotency_key="r1")
    again = sandbox.refund(charge_id=charge.charge_id, amount=Decimal("6.00"), currency=EUR, idempotency_key="r1")
    assert first == again
    with pytest.raises(ProviderError) as error:
        sandbox.refund(charge_id=charge.charge_id, amount=Decimal("5.00"), currency=EUR, idempotency_key="r2")
    assert error.value.code == "amount_too_large"
    assert SandboxCharge.objects.get().amount_refunded == Decimal("6.00")


@pytest.mark.parametrize(
    ("value", "is_card_number"),
    [
        ("4242424242424242", True),
        ("4242 4242 4242 4242", True),
        ("4000-0566-5566-5556", True),
        ("378282246310005", True),
        ("tok_visa", False),
        ("pm_1Nx2Yz", False),
        ("12345", False),
    ],
)
def test_card_numbers_are_recognised(value, is_card_number):
    assert looks_like_card_number(value) is is_card_number


RETURN_URL = "https://shop.example/api/v1/payments/return/"


def _present(sandbox, token: str, key: str):
    return sandbox.charge(
        amount=Decimal("10.00"), currency=EUR, payment_method_token=token, idempotency_key=key, return_url=RETURN_URL
    )


def test_3ds_required_asks_for_the_shopper_then_charges_once_authenticated(sandbox):
    action = _present(sandbox, "tok_3ds_required", "key-3ds")

    assert isinstance(action, ActionRequired)
    assert action.next_action_type == "redirect_to_url"
    assert action.redirect_url.startswith("https://shop.example/api/v1/payments/sandbox/authenticate/?")
    assert _present(sandbox, "tok_3ds_required", "key-3ds") == action  # the same key replays the wait
    assert isinstance(sandbox.charge_status(intent_id=action.intent_id, currency=EUR), ActionRequired)
    assert sandbox.authenticate(intent_id=action.intent_id, client_secret="wrong") is None

    back = sandbox.authenticate(intent_id=action.intent_id, client_secret=action.client_secret)

    assert back.startswith(RETURN_URL + "?")
    assert f"payment_intent={action.intent_id}" in back and "redirect_status=succeeded" in back
    charged = sandbox.charge_status(intent_id=action.intent_id, currency=EUR)
    assert isinstance(charged, ChargeResult) and (charged.card_brand, charged.card_last4) == ("visa", "3184")
    with pytest.raises(ProviderError):
        sandbox.cancel(charge_id=action.intent_id)  # a charged payment cannot be cancelled


def test_3ds_fail_declines_once_authenticated_and_an_abandoned_one_reads_cancelled(sandbox):
    failing = _present(sandbox, "tok_3ds_fail", "key-3ds-fail")
    assert "redirect_status=failed" in sandbox.authenticate(
        intent_id=failing.intent_id, client_secret=failing.client_secret
    )
    with pytest.raises(PaymentDeclined) as declined:
        sandbox.charge_status(intent_id=failing.intent_id, currency=EUR)
    assert declined.value.code == "payment_intent_authentication_failure"

    abandoned = _present(sandbox, "tok_3ds_required", "key-3ds-abandoned")
    sandbox.cancel(charge_id=abandoned.intent_id)
    with pytest.raises(PaymentDeclined) as cancelled:
        sandbox.charge_status(intent_id=abandoned.intent_id, currency=EUR)
    assert cancelled.value.code == "canceled"
    # the bank page cannot complete it any more
    assert "redirect_status=failed" in sandbox.authenticate(
        intent_id=abandoned.intent_id, client_secret=abandoned.client_secret
    )


def test_without_the_shopper_3ds_is_declined_authentication_required(sandbox):
    with pytest.raises(PaymentDeclined) as declined:
        _charge(sandbox, token="tok_3ds_required", key="key-off-session")
    assert declined.value.code == "authentication_required"
