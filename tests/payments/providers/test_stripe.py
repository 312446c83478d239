"""The Stripe provider against localstripe: PaymentIntents confirmed with the shopper's payment
method, refunds of them, Stripe's errors mapped onto the provider interface, and an idempotency
key on every call that moves money (replayed by the harness as Stripe replays it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from apps.payments.providers import (
    ActionRequired,
    ChargeResult,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    TransientProviderError,
    get_provider,
)
from apps.payments.providers.stripe import StripeProvider, decline_code, to_minor_units
from tests.localstripe import CARD_3DS_REQUIRED, CARD_DECLINED_ON_CHARGE

EUR = "EUR"


def _charge(*, token: str, key: str = "order-1-payment", amount: str = "10.50"):
    return get_provider().charge(amount=Decimal(amount), currency=EUR, payment_method_token=token, idempotency_key=key)


def test_stripe_is_chosen_by_its_name_and_meets_the_interface(localstripe):
    assert isinstance(get_provider(), StripeProvider)
    assert isinstance(get_provider(), PaymentProvider)
    assert get_provider().name == "stripe"


def test_a_good_card_is_charged_through_a_payment_intent(localstripe):
    # given a payment method made from a good card in the shopper's browser
    token = localstripe.payment_method()

    # when the provider charges it
    result = _charge(token=token, key="order-good")

    # then Stripe holds one succeeded PaymentIntent of 1050 cents, and the result names it
    intent = localstripe.client.v1.payment_intents.retrieve(result.charge_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 1050, "eur")
    assert (result.amount, result.currency, result.card_brand, result.card_last4) == (
        Decimal("10.50"),
        EUR,
        "visa",
        "4242",
    )


def test_every_money_call_carries_an_idempotency_key_and_a_retry_charges_once(localstripe):
    token = localstripe.payment_method()
    before = len(localstripe.proxy.money_calls())

    first = _charge(token=token, key="order-retried")
    again = _charge(token=token, key="order-retried")

    calls = localstripe.proxy.money_calls()[before:]
    assert [key for _, _, key in calls] == ["charge:order-retried", "charge:order-retried"]
    assert again.charge_id == first.charge_id
    charged = [
        intent
        for intent in localstripe.client.v1.payment_intents.list(params={"limit": 100}).data
        if intent.to_dict()["metadata"].get("shopstack_idempotency_key") == "order-retried"
    ]
    assert len(charged) == 1


def test_a_card_that_needs_3d_secure_is_not_charged_without_the_shopper(localstripe):
    with pytest.raises(PaymentDeclined) as declined:
        _charge(token=localstripe.payment_method(CARD_3DS_REQUIRED), key="order-3ds")

    assert declined.value.code == "authentication_required"


def test_with_the_shopper_present_3d_secure_is_an_action_then_a_charge(localstripe):
    # given a charge confirmed with a return URL (the shopper present)
    provider = get_provider()
    action = provider.charge(
        amount=Decimal("10.50"),
        currency=EUR,
        payment_method_token=localstripe.payment_method(CARD_3DS_REQUIRED),
        idempotency_key="order-3ds-present",
        return_url="https://shop.example/api/v1/payments/return/",
        reference="payment-1",
    )

    # then Stripe asks for the shopper: a redirect (the proxy's bank page) and the client secret
    assert isinstance(action, ActionRequired)
    assert action.next_action_type == "redirect_to_url" and action.client_secret.startswith(action.intent_id)
    assert isinstance(provider.charge_status(intent_id=action.intent_id, currency=EUR), ActionRequired)
    at_stripe = localstripe.client.v1.payment_intents.retrieve(action.intent_id)
    assert at_stripe.metadata["shopstack_payment_id"] == "payment-1"

    # when the shopper authenticates at the bank, the payment is charged
    localstripe.authenticate(action.intent_id, action.client_secret)
    result = provider.charge_status(intent_id=action.intent_id, currency=EUR)
    assert isinstance(result, ChargeResult) and result.amount == Decimal("10.50")
    # and a succeeded payment cannot be abandoned any more
    with pytest.raises(ProviderError):
        provider.cancel(charge_id=action.intent_id)


def test_an_abandoned_attempt_is_cancelled_and_reads_as_declined(localstripe):
    provider = get_provider()
    action = provider.charge(
        amount=Decimal("4.00"),
        currency=EUR,
        payment_method_token=localstripe.payment_method(CARD_3DS_REQUIRED),
        idempotency_key="order-3ds-abandoned",
        return_url="https://shop.example/return/",
    )

    provider.cancel(charge_id=action.intent_id)

    assert localstripe.client.v1.payment_intents.retrieve(action.intent_id).status == "canceled"
    with pytest.raises(PaymentDeclined) as declined:
        provider.charge_status(intent_id=action.intent_id, currency=EUR)
    assert declined.value.code == "canceled"


def test_a_declined_card_is_a_decline_with_stripes_code(localstripe):
    with pytest.raises(PaymentDeclined) as declined:
        _charge(token=localstripe.payment_method(CARD_DECLINED_ON_CHARGE), key="order-declined")

    assert declined.value.code == "card_declined"


def test_a_made_up_payment_method_is_an_invalid_payment_method(localstripe):
    with pytest.raises(PaymentDeclined) as declined:
        _charge(token="pm_madeup00000000", key="order-madeup")

    assert declined.value.code == "invalid_payment_method"


def test_stripe_unreachable_is_transient(localstripe, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard: nothing listens
    settings.STRIPE_TIMEOUT_SECONDS = 2

    with pytest.raises(TransientProviderError):
        _charge(token="pm_card_visa", key="order-down")


def test_refunds_partial_then_the_rest_each_once_per_key(localstripe):
    # given a charge of 10.50
    charged = _charge(token=localstripe.payment_method(), key="order-refunded")
    provider = get_provider()

    # when 4.00 is refunded (twice with one key: a retry) and then the rest
    first = provider.refund(charge_id=charged.charge_id, amount=Decimal("4.00"), currency=EUR, idempotency_key="r1")
    replay = provider.refund(charge_id=charged.charge_id, amount=Decimal("4.00"), currency=EUR, idempotency_key="r1")
    rest = provider.refund(charge_id=charged.charge_id, amount=Decimal("6.50"), currency=EUR, idempotency_key="r2")

    # then Stripe refunded 10.50 in two refunds
    assert replay.refund_id == first.refund_id
    assert (first.amount, rest.amount) == (Decimal("4.00"), Decimal("6.50"))
    refunds = localstripe.client.v1.refunds.list(params={"payment_intent": charged.charge_id}).data
    assert sorted(refund.amount for refund in refunds) == [400, 650]


def test_a_refund_of_an_unknown_charge_is_refused(localstripe):
    with pytest.raises(ProviderError) as refused:
        get_provider().refund(charge_id="pi_unknown", amount=Decimal("1.00"), currency=EUR, idempotency_key="r3")

    assert not isinstance(refused.value, TransientProviderError)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"), [("10.50", "EUR", 1050), ("1500", "JPY", 1500), ("1.234", "BHD", 1234)]
)
def test_amounts_go_to_stripe_in_the_currencys_smallest_unit(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor


def test_an_amount_finer_than_the_currency_is_refused():
    with pytest.raises(ProviderError):
        to_minor_units(Decimal("10.5"), "JPY")


@pytest.mark.parametrize(
    ("code", "error", "expected"),
    [
        ("card_declined", {"decline_code": "insufficient_funds"}, "insufficient_funds"),
        ("card_declined", {"decline_code": "generic_decline"}, "card_declined"),
        ("expired_card", {}, "expired_card"),
        ("", None, "card_declined"),
    ],
)
def test_a_decline_reports_stripes_most_telling_code(code, error, expected):
    assert decline_code(code, error) == expected


def test_calls_share_one_http_session_so_its_connections_are_kept_alive(localstripe, monkeypatch, settings):
    tokens = [localstripe.payment_method(), localstripe.payment_method()]
    sessions: list[requests.Session] = []
    made = requests.Session.__init__

    def counting(self, *args, **kwargs):
        sessions.append(self)
        made(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "__init__", counting)

    for number, token in enumerate(tokens):
        assert isinstance(_charge(token=token, key=f"order-kept-{number}"), ChargeResult)

    # At most the first call makes the session (and its connection pool: against Stripe, one TCP
    # and TLS handshake kept alive); each call made its own before. (localstripe's proxy here
    # closes every connection, so the connections themselves are not counted.)
    assert len(sessions) <= 1
    # the client follows the settings it was made from
    client = get_provider().client()
    assert get_provider().client() is client
    settings.STRIPE_TIMEOUT_SECONDS = settings.STRIPE_TIMEOUT_SECONDS + 1
    assert get_provider().client() is not client
