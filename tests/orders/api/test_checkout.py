"""Checkout: Idempotency-Key required; same key and body -> same order; another body -> 422;
prices from catalog at that moment; the cart is emptied and order.created published; refusals
change nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.core.services import db_alias
from apps.orders.models import CartLine, Order, OrderStatus, OutboxEvent
from tests.assertions import assert_problem
from tests.orders.conftest import ADDRESS, client_for, published

pytestmark = pytest.mark.django_db(databases="__all__")

ORDERS = "/api/v1/orders/"
LINES = "/api/v1/orders/cart/lines/"
BODY = {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa"}


def checkout(client, body=BODY, key: str | None = "key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(ORDERS, body, format="json", **headers)


@pytest.fixture
def filled_cart(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json")
    shopper_client.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json")
    return shopper_client


def test_checkout_places_a_pending_order_priced_now(filled_cart, catalog, shopper):
    catalog.add("MUG-01", price="12.55", name="Mug, blue")  # the price changed after it was added

    response = checkout(filled_cart)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["payment_status"] == "not_requested"
    assert body["currency"] == "EUR"
    # 2 x 12.55 + 19.99 = 45.09; shipping 4.90; tax 20 % of goods and shipping: 9.998 -> 10.00
    assert (body["subtotal"], body["shipping"], body["tax"], body["total"]) == ("45.09", "4.90", "10.00", "59.99")
    mug = next(line for line in body["lines"] if line["sku"] == "MUG-01")
    assert mug == {
        "sku": "MUG-01",
        "product_name": "Mug, blue",
        "variant_name": "Variant MUG-01",
        "unit_price": "12.55",
        "currency": "EUR",
        "quantity": 2,
        "line_total": "25.10",
        "discount": "0.00",
        "tax_rate": "0.2000",
        "tax": "5.02",
        "total": "30.12",
        "quantity_shipped": 0,
        "quantity_refunded": 0,
    }
    assert body["shipping_address"]["country"] == "GB"
    assert [change["to_status"] for change in body["status_history"]] == ["pending"]

    order = Order.objects.get()
    assert order.customer_id == shopper.id and order.email == shopper.email
    assert order.total == Decimal("59.99")
    assert not CartLine.objects.exists()
    [created] = published("order.created", order)
    assert created["order_number"] == body["number"]


def test_the_answer_is_the_order_as_read_back_without_reading_it_back(filled_cart, monkeypatch):
    # split: the saga runs in other processes, later (all-in-one, it ran on commit: read back)
    monkeypatch.setattr("apps.orders.api.views.checkout.handlers_run_inline", lambda: False)

    with CaptureQueriesContext(connections[db_alias("orders")]) as queries:
        response = checkout(filled_cart)

    assert response.status_code == 201, response.json()
    # rendered from the rows checkout wrote: no read of its history, refunds or parcels
    read = [query["sql"] for query in queries if query["sql"].startswith("SELECT")]
    tables = ('FROM "orders_orderstatuschange"', 'FROM "orders_refund"', 'FROM "orders_shipment"')
    assert not [sql for sql in read if any(table in sql for table in tables)]
    assert response.json() == filled_cart.get(f"{ORDERS}{response.json()['id']}/").json()


def test_same_key_same_body_returns_the_same_order(filled_cart):
    first = checkout(filled_cart)
    second = checkout(filled_cart)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Order.objects.count() == 1
    assert len(published("order.created")) == 1


def test_same_key_different_body_is_refused(filled_cart, shopper_client):
    first = checkout(filled_cart)
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")

    response = checkout(filled_cart, {**BODY, "payment_method_token": "pm_other"})

    assert_problem(response, status=422, code="idempotency_key_reused")
    assert Order.objects.count() == 1
    assert CartLine.objects.count() == 1  # the new cart is untouched
    assert first.json()["id"] == response.json()["order_id"]


def test_keys_belong_to_their_shopper(filled_cart, catalog, other_shopper):
    checkout(filled_cart)
    other = client_for(other_shopper)
    other.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")

    response = checkout(other)  # the same key, another shopper: a new order of theirs

    assert response.status_code == 201
    assert Order.objects.count() == 2


@pytest.mark.parametrize("key", [None, "", "has space", "x" * 256])
def test_a_missing_or_malformed_key_is_refused(filled_cart, key):
    response = checkout(filled_cart, key=key)

    assert_problem(response, status=400, code="idempotency_key_required")
    assert not Order.objects.exists()


def test_an_empty_cart_cannot_check_out(catalog, shopper_client):
    response = checkout(shopper_client)
    assert_problem(response, status=422, code="cart_empty")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_method_token": "pm"}, "shipping_address"),
        ({**BODY, "shipping_address": {**ADDRESS, "country": "Britain"}}, "shipping_address"),
        ({**BODY, "payment_method_token": ""}, "payment_method_token"),
    ],
)
def test_invalid_body_is_a_field_error(filled_cart, body, field):
    response = checkout(filled_cart, body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Order.objects.exists()
    assert CartLine.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "payment_method_token": "4242424242424242"}, "payment_method_token"),
        ({**BODY, "payment_method_token": "4242 4242 4242 4242"}, "payment_method_token"),
        ({**BODY, "payment_method_token": "4000-0566-5566-5556"}, "payment_method_token"),
        # One digit mistyped (not Luhn-valid): still most of a card number, still refused.
        ({**BODY, "payment_method_token": "4242424242424241"}, "payment_method_token"),
        ({**BODY, "payment_method_token": "card 378282246310005 exp 12/30"}, "payment_method_token"),
        ({**BODY, "shipping_address": {**ADDRESS, "line2": "pay with 4111 1111 1111 1111"}}, "shipping_address"),
    ],
)
def test_a_card_number_is_refused_before_anything_is_stored_or_published(filled_cart, body, field):
    response = checkout(filled_cart, body)

    body = assert_problem(response, status=400, code="invalid")
    assert field in body["errors"]
    assert "4242" not in response.content.decode() and "1111 1111" not in response.content.decode()
    assert not Order.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert CartLine.objects.count() == 2


def test_mixed_currencies_are_refused(filled_cart, catalog, shopper_client):
    catalog.add("USD-THING", price="5.00", currency="USD")
    shopper_client.post(LINES, {"sku": "USD-THING", "quantity": 1}, format="json")

    response = checkout(filled_cart)

    assert_problem(response, status=422, code="mixed_currencies")
    assert not Order.objects.exists()
    assert CartLine.objects.count() == 3


def test_an_item_priced_in_a_non_currency_is_not_sold(catalog, shopper_client):
    # Catalog data from before the ISO 4217 check: XXX is "no currency", nothing to charge in.
    catalog.add("OLD-THING", price="5.00", currency="EUR")
    shopper_client.post(LINES, {"sku": "OLD-THING", "quantity": 1}, format="json")
    catalog.add("OLD-THING", price="5.00", currency="XXX")

    response = checkout(shopper_client)

    body = assert_problem(response, status=422, code="items_unavailable")
    assert body["items"] == [{"sku": "OLD-THING", "reason": "not_sold"}]
    assert not Order.objects.exists()
    assert shopper_client.get("/api/v1/orders/cart/").status_code == 200  # the cart still shows
    refused = shopper_client.post(LINES, {"sku": "OLD-THING", "quantity": 2}, format="json")
    assert_problem(refused, status=400, code="unknown_sku")


def test_items_no_longer_sold_or_short_are_refused(filled_cart, catalog):
    catalog.add("TEE-RED-M", active=False)
    catalog.add("MUG-01", available=1)

    response = checkout(filled_cart)

    body = assert_problem(response, status=422, code="items_unavailable")
    assert sorted(item["sku"] for item in body["items"]) == ["MUG-01", "TEE-RED-M"]
    assert not Order.objects.exists()
    assert CartLine.objects.count() == 2


def test_catalog_down_at_checkout_is_503_and_nothing_changes(filled_cart, catalog):
    catalog.down = True

    response = checkout(filled_cart)

    assert_problem(response, status=503, code="catalog_unavailable")
    assert not Order.objects.exists()
    assert CartLine.objects.count() == 2


def test_checkout_needs_a_signed_in_shopper(catalog):
    response = checkout(client_for(None))
    assert response.status_code == 401
    assert not Order.objects.exists()


def test_a_replay_after_the_saga_moved_on_still_returns_the_order(filled_cart):
    first = checkout(filled_cart).json()
    Order.objects.filter(pk=first["id"]).update(status=OrderStatus.CANCELLED)

    again = checkout(filled_cart)

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "cancelled"


def test_unrelated_key_makes_a_second_order(filled_cart, shopper_client):
    checkout(filled_cart, key=uuid.uuid4().hex)
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    checkout(filled_cart, key=uuid.uuid4().hex)
    assert Order.objects.count() == 2


def test_checkout_is_throttled_per_shopper_but_listing_orders_is_not(catalog, shopper_client, settings):
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "checkout": "2/hour"},
    }
    attempts = [checkout(shopper_client, key=f"key-{n}") for n in range(3)]

    assert [response.status_code for response in attempts[:2]] == [422, 422]  # empty cart, but counted
    assert_problem(attempts[2], status=429, code="throttled")
    assert shopper_client.get(ORDERS).status_code == 200
    cache.clear()
