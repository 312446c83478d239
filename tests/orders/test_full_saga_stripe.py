"""The whole checkout saga in one process with Stripe as the provider (localstripe): a checkout
charged through a PaymentIntent and confirmed; a decline leaving the order waiting, then
cancelled at its deadline with the stock released; a refund by line made at Stripe; a charge
whose task was lost after Stripe took the money, confirmed by the reconciliation; and money taken
after the order was cancelled, given back at once."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
import stripe
from django.core.management import call_command

from apps.catalog.models import Stock
from apps.orders.models import Order, OrderStatus, Refund
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.saga import orders_expire_stalled
from apps.payments.models import PaymentIntent
from apps.payments.services.reconciliation import provider_reconcile
from tests.localstripe import CARD_DECLINED_ON_CHARGE
from tests.orders.conftest import client_for, make_shopper
from tests.orders.test_full_saga import _checkout, seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


def _cents_at_stripe(localstripe, order: Order) -> tuple[int, int]:
    """What Stripe took for the order and gave back, in cents."""
    intent = PaymentIntent.objects.get(order_id=order.id)
    pi = localstripe.client.v1.payment_intents.retrieve(intent.provider_charge_id)
    refunds = localstripe.client.v1.refunds.list(params={"payment_intent": pi.id}).data
    return pi.amount, sum(refund.amount for refund in refunds)


def _cart(sku: str, *, quantity: int = 1):
    client = client_for(make_shopper())
    added = client.post("/api/v1/orders/cart/lines/", {"sku": sku, "quantity": quantity}, format="json")
    assert added.status_code == 200, added.json()
    return client


def test_checkout_is_charged_at_stripe_and_confirmed(live_catalog, localstripe):
    seed("STRIPE-MUG", price="12.50", stock=5)
    client = _cart("STRIPE-MUG", quantity=2)

    response = _checkout(client, localstripe.payment_method(), "stripe-1")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == OrderStatus.CONFIRMED
    assert order.amount_captured == order.total
    assert _cents_at_stripe(localstripe, order) == (int(order.total * 100), 0)


def test_a_declined_card_leaves_the_order_waiting_with_its_stock_until_the_deadline(live_catalog, localstripe):
    seed("STRIPE-TEE", price="20.00", stock=1)
    client = _cart("STRIPE-TEE")

    response = _checkout(client, localstripe.payment_method(CARD_DECLINED_ON_CHARGE), "stripe-2")

    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert response.json()["payment"]["failure_code"] == "card_declined"
    stock = Stock.objects.get(variant__sku="STRIPE-TEE")
    assert (stock.on_hand, stock.reserved) == (1, 1)

    orders_expire_stalled(now=order.payment_deadline)

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_deadline")
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (1, 0)


def test_a_refund_by_line_is_made_at_stripe(live_catalog, localstripe):
    seed("STRIPE-CUP", price="8.00", stock=4)
    client = _cart("STRIPE-CUP", quantity=3)
    order = Order.objects.get(pk=_checkout(client, localstripe.payment_method(), "stripe-3").json()["id"])

    refund = order_refund_request(order=order, lines={"STRIPE-CUP": 2}, restock=True, actor="staff:alice")

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.COMPLETED
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    taken, given_back = _cents_at_stripe(localstripe, order)
    assert given_back == int(refund.amount * 100)
    # the money invariant, both sides: captured - refunded in orders == charged - refunded at Stripe
    assert order.amount_captured - order.amount_refunded == Decimal(taken - given_back) / 100
    call_command("check_money_invariant")


def test_a_charge_whose_task_was_lost_is_confirmed_by_the_reconciliation(
    live_catalog, localstripe, monkeypatch, settings
):
    # given a checkout whose charge task reached Stripe and then died (its message lost)
    from apps.payments.services import charges

    lost: list[str] = []
    monkeypatch.setattr(charges, "_enqueue_charge", lambda intent, token: lost.append(intent.idempotency_key))
    seed("STRIPE-HAT", price="15.00", stock=2)
    client = _cart("STRIPE-HAT")
    token = localstripe.payment_method()
    order = Order.objects.get(pk=_checkout(client, token, "stripe-4").json()["id"])
    params = {
        "amount": int(order.total * 100),
        "currency": "eur",
        "payment_method": token,
        "payment_method_types": ["card"],
        "metadata": {"shopstack_idempotency_key": lost[0]},
    }
    localstripe.client.v1.payment_intents.create(params={**params, "confirm": True, "off_session": True})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.STOCK_RESERVED

    # when the reconciliation runs (no webhook came)
    settings.PAYMENTS_RECONCILE_GRACE_SECONDS = 0
    provider_reconcile()

    # then the order is confirmed once, for the money Stripe took
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.amount_captured == order.total


def test_money_taken_after_the_order_was_cancelled_goes_back_at_once(live_catalog, localstripe, monkeypatch):
    # given a checkout whose charge went through at Stripe but every answer was lost, so
    # payments gave up (provider_unavailable) and the order, left waiting for the shopper to pay
    # again, was cancelled at its deadline
    from apps.payments.providers import TransientProviderError
    from apps.payments.providers.stripe import StripeProvider

    real_charge = StripeProvider.charge

    def charged_then_lost(self, **kwargs):
        real_charge(self, **kwargs)
        raise TransientProviderError("timed out")

    monkeypatch.setattr(StripeProvider, "charge", charged_then_lost)
    seed("STRIPE-BAG", price="30.00", stock=1)
    client = _cart("STRIPE-BAG")
    order = Order.objects.get(pk=_checkout(client, localstripe.payment_method(), "stripe-5").json()["id"])
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED
    orders_expire_stalled(now=order.payment_deadline)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED

    # when Stripe's success arrives by the reconciliation
    with contextlib.suppress(stripe.StripeError):
        provider_reconcile()

    # then orders gives the whole amount back through Stripe; staff see the payment flagged
    order.refresh_from_db()
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert intent.attention == PaymentIntent.Attention.PAID_AFTER_FAILURE
    assert order.amount_captured == order.amount_refunded == order.total
    taken, given_back = _cents_at_stripe(localstripe, order)
    assert taken == given_back == int(order.total * 100)
    call_command("check_money_invariant")
