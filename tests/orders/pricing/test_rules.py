"""Pricing rules read from orders' database: tax rates by destination and date, prices that
include tax, per-shopper voucher limits, uses given back on cancellation, and the admin."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.orders.errors import VoucherCustomerLimit
from apps.orders.models import Order, Promotion, TaxRate, Voucher, VoucherUse
from apps.orders.pricing.rules import tax_rates_for
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.cart import cart_line_add, cart_voucher_apply
from tests.orders.conftest import ADDRESS

pytestmark = pytest.mark.django_db(databases="__all__")

ORDERS = "/api/v1/orders/"


def test_a_regions_rate_wins_over_its_countrys_and_rates_change_on_their_date():
    # Given Spain's 21 %, the Canary Islands' own 7 % and a German rate cut from 2027
    TaxRate.objects.create(country="ES", tax_class="standard", rate=Decimal("0.21"), valid_from="2020-01-01")
    TaxRate.objects.create(
        country="ES", region="ES-CN", tax_class="standard", rate=Decimal("0.07"), valid_from="2020-01-01"
    )
    TaxRate.objects.create(country="DE", tax_class="standard", rate=Decimal("0.16"), valid_from="2027-01-01")
    TaxRate.objects.create(
        country="DE", tax_class="exempt", rate=Decimal("0.19"), valid_from="2020-01-01"
    )  # exempt never taxes

    today, later = datetime.date(2026, 6, 1), datetime.date(2027, 6, 1)
    assert tax_rates_for(country="ES", on=today)["standard"] == Decimal("0.21")
    assert tax_rates_for(country="ES", region="ES-CN", on=today)["standard"] == Decimal("0.07")
    assert tax_rates_for(country="DE", on=today) == {"standard": Decimal("0.19"), "reduced": Decimal("0.07"), "zero": 0}
    assert tax_rates_for(country="DE", on=later)["standard"] == Decimal("0.16")


def test_prices_with_tax_are_charged_as_shown_and_the_tax_is_taken_out(catalog, shopper_client, settings):
    # Given a shop whose prices include VAT and a German address (19 %)
    settings.ORDERS_PRICES_INCLUDE_TAX = True
    shopper_client.post("/api/v1/orders/cart/lines/", {"sku": "MUG-01", "quantity": 2}, format="json")
    body = {"shipping_address": {**ADDRESS, "country": "DE"}, "payment_method_token": "pm_test_visa"}

    order = shopper_client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-incl").json()

    # Then 25.00 goods + 6.90 EU standard shipping is the total; 19/119 of it is tax
    assert (order["subtotal"], order["shipping"], order["total"], order["tax"]) == ("25.00", "6.90", "31.90", "5.09")
    assert order["prices_include_tax"] is True
    assert order["tax_breakdown"] == [{"rate": "0.1900", "base": "26.81", "tax": "5.09"}]


def test_a_per_shopper_limit_counts_only_that_shoppers_uses(catalog, place_order, shopper, other_shopper):
    Voucher.objects.create(code="ONCE", kind="percentage", value=Decimal("5"), per_customer_limit=1)
    cart = cart_line_add(customer_id=shopper.id, sku="MUG-01", quantity=1).cart
    cart_voucher_apply(cart=cart, code="ONCE", customer_id=shopper.id)
    place_order(shopper, {"MUG-01": 1})

    again = cart_line_add(customer_id=shopper.id, sku="MUG-01", quantity=1).cart
    with pytest.raises(VoucherCustomerLimit):
        cart_voucher_apply(cart=again, code="ONCE", customer_id=shopper.id)
    other = cart_line_add(customer_id=other_shopper.id, sku="MUG-01", quantity=1).cart
    assert cart_voucher_apply(cart=other, code="ONCE", customer_id=other_shopper.id).voucher_code == "ONCE"


def test_cancelling_an_order_gives_its_voucher_use_back(catalog, place_order, shopper):
    voucher = Voucher.objects.create(code="LIMITED", kind="fixed", value=Decimal("5"), usage_limit=1)
    cart = cart_line_add(customer_id=shopper.id, sku="MUG-01", quantity=2).cart
    cart_voucher_apply(cart=cart, code="LIMITED", customer_id=shopper.id)
    order = place_order(shopper, {})
    assert order.discount == Decimal("5.00")
    voucher.refresh_from_db()
    assert voucher.used_count == 1

    order_cancel(order=order, reason="customer_request", actor="customer:test")

    voucher.refresh_from_db()
    assert voucher.used_count == 0
    assert VoucherUse.objects.get(order=order).released_at is not None
    assert Order.objects.get(pk=order.pk).voucher_code == "LIMITED"


@pytest.mark.parametrize("model", ["shippingzone", "shippingmethod", "taxrate", "voucher", "promotion"])
def test_staff_manage_the_rules_in_the_admin(admin_client, model):
    assert admin_client.get(reverse(f"admin:orders_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:orders_{model}_add")).status_code == 200


def test_a_rule_saved_in_the_admin_applies_at_once_despite_the_cache(catalog, shopper_client, settings):
    # Given the rules cached by a first pricing
    settings.ORDERS_PRICING_RULES_CACHE_SECONDS = 300
    shopper_client.post("/api/v1/orders/cart/lines/", {"sku": "MUG-01", "quantity": 2}, format="json")
    assert shopper_client.get("/api/v1/orders/cart/").json()["totals"]["discount"] == "0.00"

    # When staff add a promotion
    Promotion.objects.create(name="Mugs", percentage=Decimal("10"), skus=["MUG-01"])

    # Then the next pricing sees it
    assert shopper_client.get("/api/v1/orders/cart/").json()["totals"]["discount"] == "2.50"
