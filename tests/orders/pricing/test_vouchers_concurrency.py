"""The last use of a limited voucher under concurrency: shoppers checking out at the same moment
with a code that has one use left get exactly one order with it (PostgreSQL, real transactions,
one connection per thread).

The order that takes the use must go on to be confirmed: a cancelled order gives its use back,
and a shopper whose checkout reached the voucher after that would rightly take it, so catalog
holds the stock and the card is one the sandbox charges."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connections

from apps.core.exceptions import ApplicationError
from apps.orders.models import Cart, Order, OrderStatus, Voucher, VoucherUse
from apps.orders.services.cart import cart_line_add, cart_voucher_apply
from apps.orders.services.checkout import order_checkout
from tests.orders.conftest import ADDRESS, make_shopper
from tests.orders.test_full_saga import seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SHOPPERS = 6


def _run_concurrently(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call()
        except ApplicationError as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result(timeout=60) for future in [pool.submit(run, call) for call in calls]]


def test_two_shoppers_cannot_both_take_the_last_use(catalog):
    # Given a voucher with one use left, stock for an order, and several shoppers with it in their carts
    seed("MUG-01", price="12.50", stock=10)
    Voucher.objects.create(code="LAST1", kind="percentage", value=Decimal("10"), usage_limit=3, used_count=2)
    shoppers = [make_shopper() for _ in range(SHOPPERS)]
    for shopper in shoppers:
        cart = cart_line_add(customer_id=shopper.id, sku="MUG-01", quantity=2).cart
        cart_voucher_apply(cart=cart, code="last1", customer_id=shopper.id)

    # When they all check out at once
    def checkout(shopper):
        return lambda: order_checkout(
            customer_id=shopper.id,
            email=shopper.email,
            idempotency_key=f"k-{shopper.id}",
            shipping_address=ADDRESS,
            payment_method_token="tok_visa",
        )

    outcomes = _run_concurrently([checkout(shopper) for shopper in shoppers])

    # Then exactly one order has it; the others are refused with voucher_used_up and keep their carts
    refused = [outcome for outcome in outcomes if isinstance(outcome, ApplicationError)]
    assert len(refused) == SHOPPERS - 1
    assert {error.default_code for error in refused} == {"voucher_used_up"}
    assert Order.objects.count() == 1
    assert Order.objects.get().status == OrderStatus.CONFIRMED
    assert VoucherUse.objects.filter(released_at__isnull=True).count() == 1
    assert VoucherUse.objects.count() == 1
    assert Voucher.objects.get(code="LAST1").used_count == 3
    assert Cart.objects.filter(lines__isnull=False, voucher_code="LAST1").distinct().count() == SHOPPERS - 1
