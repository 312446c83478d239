"""The cart API: anonymous carts by token, the shopper's cart by JWT, explicit merge on sign-in,
current prices from catalog, and bad input refused with nothing changed."""

from __future__ import annotations

import uuid

import pytest

from apps.orders.models import Cart, CartLine
from tests.assertions import assert_problem
from tests.orders.conftest import client_for

pytestmark = pytest.mark.django_db(databases="__all__")

CART = "/api/v1/orders/cart/"
LINES = "/api/v1/orders/cart/lines/"
MERGE = "/api/v1/orders/cart/merge/"


def line_url(sku: str) -> str:
    return f"{LINES}{sku}/"


def anonymous_cart(catalog, sku="MUG-01", quantity=1) -> str:
    response = client_for(None).post(LINES, {"sku": sku, "quantity": quantity}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["token"]


def cart_state() -> list[tuple]:
    return sorted(CartLine.objects.values_list("cart_id", "sku", "quantity"))


def test_anonymous_cart_is_created_with_its_token_and_priced_by_catalog(catalog):
    client = client_for(None)

    response = client.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json")

    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert response["X-Cart-Token"] == token
    assert body["lines"] == [
        {
            "sku": "MUG-01",
            "quantity": 2,
            "product_name": "Product MUG-01",
            "variant_name": "Variant MUG-01",
            "unit_price": "12.50",
            "currency": "EUR",
            "line_total": "25.00",
            "discount": "0.00",
            "tax": "5.00",
            "available": 100,
            "purchasable": True,
        }
    ]
    totals = {key: body["totals"][key] for key in ("subtotal", "discount", "shipping", "tax", "total")}
    assert totals == {"subtotal": "25.00", "discount": "0.00", "shipping": "4.90", "tax": "5.98", "total": "35.88"}
    assert body["totals"]["tax_lines"] == [{"rate": "0.2000", "base": "29.90", "tax": "5.98"}]
    # Only the token's hash is kept
    assert not Cart.objects.filter(token_hash=token).exists()

    # The token addresses the cart; quantities add up
    response = client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json", HTTP_X_CART_TOKEN=token)
    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 3
    assert client.get(CART, HTTP_X_CART_TOKEN=token).json()["lines"][0]["quantity"] == 3


def test_cart_shows_current_prices_and_availability(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "POSTER-A2", "quantity": 1}, format="json")
    shopper_client.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json")
    # Catalog changes its price and stock afterwards
    catalog.add("TEE-RED-M", price="15.00", available=0)

    body = shopper_client.get(CART).json()

    tee = next(line for line in body["lines"] if line["sku"] == "TEE-RED-M")
    assert tee["unit_price"] == "15.00"
    assert tee["available"] == 0
    assert tee["purchasable"] is False
    assert body["purchasable"] is False
    assert body["totals"]["subtotal"] == "22.25"


def test_an_empty_cart_without_token_or_jwt(catalog):
    body = client_for(None).get(CART).json()
    assert body["lines"] == [] and body["id"] is None and body["totals"] is None


@pytest.mark.parametrize("quantity", [0, -1, 21, 1000])
def test_out_of_range_quantity_is_refused_and_nothing_changes(catalog, shopper_client, quantity):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    before = cart_state()

    response = shopper_client.post(LINES, {"sku": "TEE-RED-M", "quantity": quantity}, format="json")

    assert_problem(response, status=400, code="invalid_quantity")
    assert cart_state() == before


def test_adding_past_the_limit_is_refused(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 15}, format="json")

    response = shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 6}, format="json")

    assert_problem(response, status=400, code="invalid_quantity")
    assert CartLine.objects.get().quantity == 15


@pytest.mark.parametrize("quantity", ["two", None, 1.5])
def test_a_non_integer_quantity_is_a_field_error(catalog, shopper_client, quantity):
    response = shopper_client.post(LINES, {"sku": "MUG-01", "quantity": quantity}, format="json")
    assert response.status_code == 400
    assert "quantity" in response.json()["errors"]
    assert not CartLine.objects.exists()


def test_unknown_or_inactive_sku_is_refused_and_no_cart_is_made(catalog):
    catalog.add("OLD-1", active=False)
    for sku in ("NOPE-1", "OLD-1"):
        response = client_for(None).post(LINES, {"sku": sku, "quantity": 1}, format="json")
        assert_problem(response, status=400, code="unknown_sku")
    assert not Cart.objects.exists()


def test_change_quantity_and_remove(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")

    response = shopper_client.patch(line_url("MUG-01"), {"quantity": 4}, format="json")
    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 4

    for bad in (0, -2, 21):
        response = shopper_client.patch(line_url("MUG-01"), {"quantity": bad}, format="json")
        assert response.status_code == 400
    assert CartLine.objects.get().quantity == 4

    assert shopper_client.patch(line_url("TEE-RED-M"), {"quantity": 1}, format="json").status_code == 404
    assert shopper_client.delete(line_url("MUG-01")).status_code == 204
    assert_problem(shopper_client.delete(line_url("MUG-01")), status=404, code="cart_line_not_found")
    assert shopper_client.get(CART).json()["lines"] == []


def test_one_cart_per_shopper_and_nobody_sees_anothers(catalog, shopper, other_shopper):
    mine, theirs = client_for(shopper), client_for(other_shopper)
    mine.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    mine.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json")

    assert Cart.objects.filter(customer_id=shopper.id).count() == 1
    assert theirs.get(CART).json()["lines"] == []
    assert theirs.delete(line_url("MUG-01")).status_code == 404
    assert CartLine.objects.count() == 2


def test_an_unknown_token_is_404(catalog):
    client = client_for(None)
    assert_problem(client.get(CART, HTTP_X_CART_TOKEN="nope"), status=404, code="cart_not_found")
    response = client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json", HTTP_X_CART_TOKEN="nope")
    assert response.status_code == 404
    assert not Cart.objects.exists()


def test_merge_on_sign_in(catalog, shopper, shopper_client):
    # Given an anonymous cart and a shopper cart sharing a SKU
    token = anonymous_cart(catalog, "MUG-01", 15)
    client_for(None).post(LINES, {"sku": "POSTER-A2", "quantity": 1}, format="json", HTTP_X_CART_TOKEN=token)
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 10}, format="json")

    response = shopper_client.post(MERGE, HTTP_X_CART_TOKEN=token)

    assert response.status_code == 200
    lines = {line["sku"]: line["quantity"] for line in response.json()["lines"]}
    assert lines == {"MUG-01": 20, "POSTER-A2": 1}  # capped at the line limit
    # The anonymous cart is retired: its token no longer works
    assert client_for(None).get(CART, HTTP_X_CART_TOKEN=token).status_code == 404
    assert shopper_client.post(MERGE, HTTP_X_CART_TOKEN=token).status_code == 404


def test_merge_refusals_change_nothing(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    token = anonymous_cart(catalog)
    before = cart_state()

    assert shopper_client.post(MERGE).status_code == 400  # no token
    assert shopper_client.post(MERGE, HTTP_X_CART_TOKEN=uuid.uuid4().hex).status_code == 404
    assert client_for(None).post(MERGE, HTTP_X_CART_TOKEN=token).status_code == 401  # not signed in

    assert cart_state() == before


def test_catalog_down_is_a_503_problem(catalog, shopper_client):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    catalog.down = True

    for response in (
        shopper_client.get(CART),
        shopper_client.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json"),
    ):
        assert_problem(response, status=503, code="catalog_unavailable")
    assert cart_state()[0][1:] == ("MUG-01", 1)


@pytest.mark.parametrize("sku", ["%00", "MUG%0001"])
def test_a_nul_character_in_a_cart_lines_sku_is_a_400_problem(catalog, shopper_client, sku):
    shopper_client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    before = cart_state()

    changed = shopper_client.patch(f"{LINES}{sku}/", {"quantity": 2}, format="json")
    removed = shopper_client.delete(f"{LINES}{sku}/")

    assert_problem(changed, status=400, code="bad_request")
    assert_problem(removed, status=400, code="bad_request")
    assert cart_state() == before
