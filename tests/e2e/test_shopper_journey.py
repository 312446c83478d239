"""The whole journey over HTTP, as a shopper and a staff member would make it: register, sign in,
browse and search, fill a cart, enter a voucher and choose a shipping method, check out, get paid
and confirmed, receive the confirmation with its breakdown (read from the notifications delivery
log in the admin), be shipped by staff in the admin, receive the shipping notice, and be refunded.

Runs against the split stack (scripts/stack up; E2E_BASE_URL defaults to its gateway) and the
same way against the all-in-one server (E2E_SHAPE=all-in-one E2E_BASE_URL=http://127.0.0.1:8000)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.e2e.client import Shopper, Staff, delivery_templates, delivery_text, eventually, payment_token

pytestmark = pytest.mark.e2e

ADDRESS = {
    "full_name": "Eve Tester",
    "line1": "1 Loopback Lane",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}


# WELCOME10 (10 % from 20.00) is one of the demo vouchers every shape seeds (seed_pricing_demo).
VOUCHER = "WELCOME10"
CART_AT_LEAST = Decimal("25.00")


def _products_in_stock(shopper: Shopper) -> list[dict]:
    listing = shopper.call("GET", "/api/v1/catalog/products/", params={"in_stock": "true", "page_size": 5})
    assert listing.status_code == 200, listing.text
    assert listing.headers.get("ETag")
    products = listing.json()["results"]
    assert products, "the demo catalog has products in stock"

    word = products[0]["name"].split()[0]
    search = shopper.call("GET", "/api/v1/catalog/products/", params={"q": word})
    assert search.status_code == 200 and search.json()["results"], f"search for {word!r} finds products"

    details = []
    for product in products:
        detail = shopper.call("GET", f"/api/v1/catalog/products/{product['slug']}/")
        assert detail.status_code == 200, detail.text
        details.append(detail.json())
    return details


def _fill_cart(shopper: Shopper, products: list[dict]) -> dict:
    """Two units of in-stock variants of different products until the cart is worth at least
    CART_AT_LEAST (the voucher's minimum spend is 20.00), at least two lines."""
    cart: dict = {"lines": []}
    for product in products:
        variant = next((v for v in product["variants"] if v["available"] >= 2), None)
        if variant is None:
            continue
        added = shopper.call("POST", "/api/v1/orders/cart/lines/", json={"sku": variant["sku"], "quantity": 2})
        assert added.status_code in (200, 201), added.text
        cart = shopper.call("GET", "/api/v1/orders/cart/", params={"country": ADDRESS["country"]}).json()
        if len(cart["lines"]) >= 2 and Decimal(cart["totals"]["subtotal"]) >= CART_AT_LEAST:
            return cart
    raise AssertionError(f"the demo catalog's first products do not make a cart of {CART_AT_LEAST}: {cart}")


def _assert_the_email_shows_the_breakdown(text: str, order: dict) -> None:
    currency = order["currency"]
    for line in order["lines"]:
        # The email's line price is what the goods cost after the discount (tax apart).
        paid = Decimal(line["line_total"]) - Decimal(line["discount"])
        assert f"{line['quantity']} x {line['product_name']}" in text, (line, text)
        assert f"{paid} {currency}" in text, (line, text)
    assert f"Subtotal: {order['subtotal']} {currency}" in text, text
    assert f"Discounts: -{order['discount']} {currency}" in text, text
    assert f"Shipping (Express): {order['shipping']} {currency}" in text, text
    tax_label = "Tax included" if order["prices_include_tax"] else "Tax"
    assert f"{tax_label}: {order['tax']} {currency}" in text, text
    assert f"Total: {order['total']} {currency}" in text, text


def _order(shopper: Shopper, order_id: str) -> dict:
    response = shopper.call("GET", f"/api/v1/orders/{order_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def test_register_buy_ship_and_refund():
    shopper = Shopper()
    shopper.register_and_log_in()

    _fill_cart(shopper, _products_in_stock(shopper))

    # The shopper asks what shipping costs to their address, tries codes and picks express.
    quote = shopper.call("GET", "/api/v1/orders/cart/shipping-methods/", params={"country": ADDRESS["country"]})
    assert quote.status_code == 200, quote.text
    assert "express" in [method["code"] for method in quote.json()["methods"]]
    refused = shopper.call("POST", "/api/v1/orders/cart/voucher/", json={"code": "NO-SUCH-CODE"})
    assert (refused.status_code, refused.json()["code"]) == (422, "voucher_unknown")
    applied = shopper.call("POST", "/api/v1/orders/cart/voucher/", json={"code": "freeship"})
    assert applied.status_code == 200, applied.text
    shown = shopper.call("GET", "/api/v1/orders/cart/", params={"country": "GB", "shipping_method": "express"}).json()
    assert (shown["voucher_code"], shown["totals"]["shipping"]) == ("FREESHIP", "0.00")
    # One code per cart: the welcome code replaces free shipping, so the order has a discount,
    # a shipping charge and tax on both for the confirmation to show.
    applied = shopper.call("POST", "/api/v1/orders/cart/voucher/", json={"code": VOUCHER.lower()})
    assert applied.status_code == 200, applied.text
    shown = shopper.call("GET", "/api/v1/orders/cart/", params={"country": "GB", "shipping_method": "express"}).json()
    totals = shown["totals"]
    assert shown["voucher_code"] == VOUCHER
    assert Decimal(totals["discount"]) > 0 and Decimal(totals["shipping"]) > 0 and Decimal(totals["tax"]) > 0

    key = str(uuid.uuid4())
    body = {"shipping_address": ADDRESS, "payment_method_token": payment_token(), "shipping_method": "express"}
    placed = shopper.call("POST", "/api/v1/orders/", json=body, headers={"Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    # Checkout charged exactly what the cart showed, with the code and the method chosen.
    assert placed.json()["total"] == shown["totals"]["total"]
    assert (placed.json()["voucher_code"], placed.json()["shipping_method"]) == (VOUCHER, "express")
    replayed = shopper.call("POST", "/api/v1/orders/", json=body, headers={"Idempotency-Key": key})
    assert replayed.json()["id"] == order_id  # the same key places the order once

    confirmed = eventually(
        lambda: (order := _order(shopper, order_id))["status"] == "confirmed" and order, what="order confirmed"
    )
    assert Decimal(confirmed["total"]) > 0 and confirmed["payment_status"] == "captured"
    assert (confirmed["subtotal"], confirmed["discount"], confirmed["shipping"], confirmed["tax"]) == (
        totals["subtotal"],
        totals["discount"],
        totals["shipping"],
        totals["tax"],
    )

    notifications = Staff("notifications")
    eventually(
        lambda: {"welcome", "order_confirmed"} <= set(delivery_templates(notifications, shopper.email)),
        what="welcome and confirmation emails logged",
    )
    # The confirmation lists names, quantities, line prices, the discount, shipping, tax and total.
    _assert_the_email_shows_the_breakdown(delivery_text(notifications, shopper.email, "order_confirmed"), confirmed)

    orders_admin = Staff("orders")
    shipped_page = orders_admin.post(
        "orders/order/",
        {
            "action": "mark_shipped",
            "_selected_action": order_id,
            "apply": "1",
            f"{order_id}-carrier": "Loopback Post",
            f"{order_id}-tracking_number": "LP123456789",
        },
    )
    assert "shipped" in shipped_page
    assert _order(shopper, order_id)["status"] == "shipped"
    eventually(
        lambda: "order_shipped" in delivery_templates(notifications, shopper.email), what="shipping notice logged"
    )

    orders_admin.refund(order_id, {"reason": "e2e full refund", "refund_everything": "on"})
    refunded = eventually(
        lambda: (order := _order(shopper, order_id))["status"] == "refunded" and order, what="order refunded"
    )
    assert refunded["payment_status"] == "refunded" and refunded["amount_refunded"] == refunded["total"]
    eventually(
        lambda: "payment_refunded" in delivery_templates(notifications, shopper.email), what="refund notice logged"
    )
