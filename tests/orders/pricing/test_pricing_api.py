"""Pricing through the API: cart totals, the shipping quote, vouchers on the cart, checkout
charging exactly what the cart showed, and each refusal a problem with its own code that leaves
the cart unchanged."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.orders.models import Cart, Order, OutboxEvent, Promotion, Voucher, VoucherUse
from apps.orders.services.refunds import order_refund_request
from tests.assertions import assert_problem
from tests.orders.conftest import ADDRESS, advance_to_confirmed, client_for

pytestmark = pytest.mark.django_db(databases="__all__")

CART = "/api/v1/orders/cart/"
LINES = "/api/v1/orders/cart/lines/"
VOUCHER = "/api/v1/orders/cart/voucher/"
QUOTE = "/api/v1/orders/cart/shipping-methods/"
ORDERS = "/api/v1/orders/"


def fill(client, **lines):
    for sku, quantity in (lines or {"MUG-01": 2}).items():
        assert client.post(LINES, {"sku": sku, "quantity": quantity}, format="json").status_code in (200, 201)


def checkout(client, key="k1", **extra):
    body = {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa", **extra}
    return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_quote_lists_the_methods_for_the_address_with_prices(catalog, shopper_client):
    fill(shopper_client)
    body = shopper_client.get(QUOTE, {"country": "GB"}).json()
    assert [(m["code"], m["price"], m["total"], m["min_days"]) for m in body["methods"]] == [
        ("standard", "4.90", "35.88", 2),
        ("express", "9.90", "41.88", 1),
    ]


def test_the_cart_is_priced_for_a_destination_with_its_rates(catalog, shopper_client):
    fill(shopper_client)
    body = shopper_client.get(CART, {"country": "DE", "shipping_method": "express"}).json()
    # 25.00 goods + 19.90 express (value band), 19 % German VAT on both: 8.531 -> 8.53
    assert (body["totals"]["shipping"], body["totals"]["tax"], body["totals"]["total"]) == ("19.90", "8.53", "53.43")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [({"country": "US"}, 422, "shipping_destination_unsupported"), ({"country": "XX"}, 400, "invalid_country")],
)
def test_destinations_refused(catalog, shopper_client, query, status, code):
    fill(shopper_client)
    assert_problem(shopper_client.get(QUOTE, query), status=status, code=code)


def test_a_voucher_on_the_cart_is_charged_at_checkout_exactly_as_shown(catalog, shopper_client, shopper):
    fill(shopper_client, **{"MUG-01": 2, "TEE-RED-M": 1})
    cart = shopper_client.post(VOUCHER, {"code": "welcome10"}, format="json").json()
    assert cart["voucher_code"] == "WELCOME10"
    shown = shopper_client.get(CART, {"country": "GB", "shipping_method": "express"}).json()["totals"]

    response = checkout(shopper_client, shipping_method="express")

    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["subtotal"], order["discount"], order["shipping"], order["tax"], order["total"]) == (
        shown["subtotal"],
        shown["discount"],
        shown["shipping"],
        shown["tax"],
        shown["total"],
    )
    assert order["discount"] == "4.50"  # 10 % of 44.99, per line: 2.50 + 2.00
    assert order["voucher_code"] == "WELCOME10"
    assert order["shipping_method"] == "express"
    assert VoucherUse.objects.get().customer_id == shopper.id
    assert Voucher.objects.get(code="WELCOME10").used_count == 1


@pytest.mark.parametrize(
    ("voucher", "code"),
    [
        ({"code": "GONE", "kind": "percentage", "value": 10, "ends_at": "past"}, "voucher_expired"),
        ({"code": "SOON", "kind": "percentage", "value": 10, "starts_at": "future"}, "voucher_expired"),
        ({"code": "FULL", "kind": "percentage", "value": 10, "usage_limit": 1, "used_count": 1}, "voucher_used_up"),
        ({"code": "BIG", "kind": "fixed", "value": 5, "min_spend": 100}, "voucher_minimum_not_met"),
        ({"code": "TEES", "kind": "percentage", "value": 10, "skus": ["TEE-RED-M"]}, "voucher_not_applicable"),
        (None, "voucher_unknown"),
    ],
)
def test_refused_codes_leave_the_cart_unchanged(catalog, shopper_client, shopper, voucher, code):
    now = timezone.now()
    if voucher:
        dates = {"past": now - datetime.timedelta(days=1), "future": now + datetime.timedelta(days=1)}
        Voucher.objects.create(
            **{
                key: dates.get(value, value) if key in ("starts_at", "ends_at") else value
                for key, value in voucher.items()
            }
        )
    fill(shopper_client)
    shopper_client.post(VOUCHER, {"code": "WELCOME10"}, format="json")

    response = shopper_client.post(VOUCHER, {"code": voucher["code"] if voucher else "NOPE"}, format="json")

    assert_problem(response, status=422, code=code)
    assert Cart.objects.get(customer_id=shopper.id).voucher_code == "WELCOME10"


def test_a_method_not_offered_is_refused_at_checkout_and_nothing_changes(catalog, shopper_client, shopper):
    fill(shopper_client)
    assert_problem(checkout(shopper_client, shipping_method="pickup"), status=422, code="shipping_method_unavailable")
    address = {**ADDRESS, "country": "US"}
    response = shopper_client.post(
        ORDERS, {"shipping_address": address, "payment_method_token": "pm_x"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert_problem(response, status=422, code="shipping_destination_unsupported")
    assert not Order.objects.exists()
    assert Cart.objects.get(customer_id=shopper.id).lines.count() == 1


def test_a_discounted_line_refunded_gives_back_its_discounted_price_and_its_tax(catalog, shopper_client, shopper):
    # Given 10 % off tees automatically, and an order with 2 mugs and a tee (19.99 -> 17.99 after 2.00 off)
    Promotion.objects.create(name="Tees", percentage=Decimal("10"), skus=["TEE-RED-M"])
    fill(shopper_client, **{"MUG-01": 2, "TEE-RED-M": 1})
    order = Order.objects.get(pk=checkout(shopper_client).json()["id"])
    order = advance_to_confirmed(order)
    tee = order.lines.get(sku="TEE-RED-M")
    assert (tee.discount, tee.tax, tee.total) == (Decimal("2.00"), Decimal("3.60"), Decimal("21.59"))

    refund = order_refund_request(order=order, lines={"TEE-RED-M": 1}, actor="staff:alice")

    assert refund.amount == Decimal("21.59")  # not 19.99 x 1.20 = 23.99


def test_a_code_applied_before_signing_in_follows_the_cart_into_the_shoppers(catalog, shopper_client, shopper):
    # Given an anonymous cart with a code
    anonymous = client_for(None)
    token = anonymous.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json").json()["token"]
    assert anonymous.post(VOUCHER, {"code": "WELCOME10"}, format="json", HTTP_X_CART_TOKEN=token).status_code == 200

    # When the shopper signs in and merges it
    merged = shopper_client.post("/api/v1/orders/cart/merge/", HTTP_X_CART_TOKEN=token).json()

    # Then the code is on the shopper's cart and priced
    assert merged["voucher_code"] == "WELCOME10"
    assert merged["totals"]["discount"] == "2.50"


def test_a_code_that_lapses_after_it_was_applied_is_shown_off_and_refused_at_checkout(catalog, shopper_client, shopper):
    # Given a code applied to the cart, which then ends
    voucher = Voucher.objects.create(code="FLASH", kind="percentage", value=Decimal("20"))
    fill(shopper_client)
    shopper_client.post(VOUCHER, {"code": "FLASH"}, format="json")
    voucher.ends_at = timezone.now() - datetime.timedelta(seconds=1)
    voucher.save()

    # Then the cart is priced without it and says why, and checkout refuses it, changing nothing
    cart = shopper_client.get(CART).json()
    assert (cart["voucher_code"], cart["pricing_error"], cart["totals"]["discount"]) == (
        "FLASH",
        "voucher_expired",
        "0.00",
    )
    assert_problem(checkout(shopper_client), status=422, code="voucher_expired")
    assert not Order.objects.exists()
    assert Cart.objects.get(customer_id=shopper.id).lines.count() == 1


def test_a_business_in_another_eu_country_is_reverse_charged_in_the_cart_and_the_order(
    catalog, shopper_client, shopper, settings
):
    # Given an Irish shop and a German business buyer, delivered in Germany
    settings.ORDERS_SHOP_COUNTRY = "IE"
    fill(shopper_client)
    business = {**ADDRESS, "country": "DE", "vat_number": "de 123 456 789"}

    # When the cart is priced with the VAT number, then checked out
    cart = shopper_client.get(CART, {"country": "DE", "vat_number": "DE123456789"}).json()["totals"]
    response = checkout(shopper_client, shipping_address=business)

    # Then no VAT is charged, the order says reverse charge and keeps the number, and the
    # confirmation event carries both for the email
    assert (cart["reverse_charge"], cart["tax"], cart["total"]) == (True, "0.00", "31.90")
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.reverse_charge, order.vat_number, order.tax, order.total) == (
        True,
        "DE123456789",
        Decimal("0"),
        Decimal("31.90"),
    )
    assert response.json()["reverse_charge"] is True
    advance_to_confirmed(order)
    confirmed = OutboxEvent.objects.get(event_type="order.confirmed", payload__order_id=str(order.id)).payload
    assert (confirmed["reverse_charge"], confirmed["vat_number"]) == (True, "DE123456789")


@pytest.mark.parametrize(
    ("shop", "country", "vat_number"),
    [("DE", "DE", "DE123456789"), ("", "DE", "DE123456789"), ("IE", "AT", "DE123456789")],
)
def test_a_buyer_who_is_not_an_intra_eu_business_pays_vat(catalog, shopper_client, settings, shop, country, vat_number):
    settings.ORDERS_SHOP_COUNTRY = shop
    fill(shopper_client)
    totals = shopper_client.get(CART, {"country": country, "vat_number": vat_number}).json()["totals"]
    assert totals["reverse_charge"] is False and Decimal(totals["tax"]) > 0


def test_a_shop_whose_prices_include_tax_charges_it_to_a_business_too(catalog, shopper_client, settings):
    settings.ORDERS_SHOP_COUNTRY = "IE"
    settings.ORDERS_PRICES_INCLUDE_TAX = True
    fill(shopper_client)
    totals = shopper_client.get(CART, {"country": "DE", "vat_number": "DE123456789"}).json()["totals"]
    assert totals["reverse_charge"] is False and Decimal(totals["tax"]) > 0


def test_a_vat_number_not_in_form_is_a_400_and_changes_nothing(catalog, shopper_client, shopper, settings):
    settings.ORDERS_SHOP_COUNTRY = "IE"
    fill(shopper_client)
    assert_problem(
        shopper_client.get(CART, {"country": "DE", "vat_number": "DE12345"}), status=400, code="invalid_vat_number"
    )
    business = {**ADDRESS, "country": "DE", "vat_number": "GB123456789"}
    assert_problem(checkout(shopper_client, shipping_address=business), status=400, code="invalid_vat_number")
    assert not Order.objects.exists()
    assert Cart.objects.get(customer_id=shopper.id).lines.count() == 1


def test_an_address_without_a_vat_number_is_kept_as_it_was(catalog, shopper_client):
    # No VAT number key is added: an address, and so a checkout's idempotency fingerprint, stays
    # what it was before VAT numbers existed (a retry across a release is not "another body").
    fill(shopper_client)
    order = Order.objects.get(pk=checkout(shopper_client).json()["id"])
    assert "vat_number" not in order.shipping_address
    assert (order.vat_number, order.reverse_charge) == ("", False)
