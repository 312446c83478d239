"""The whole journey over HTTP, as a shopper and a staff member would make it: register, sign in,
browse and search, fill a cart, check out, get paid and confirmed, receive the confirmation, be
shipped by staff in the admin, receive the shipping notice, and be refunded.

Runs against the split stack (scripts/stack up; E2E_BASE_URL defaults to its gateway) and the
same way against the all-in-one server (E2E_SHAPE=all-in-one E2E_BASE_URL=http://127.0.0.1:8000)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.e2e.client import Shopper, Staff, delivery_templates, eventually

pytestmark = pytest.mark.e2e

ADDRESS = {
    "full_name": "Eve Tester",
    "line1": "1 Loopback Lane",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}


def _a_product_in_stock(shopper: Shopper) -> dict:
    listing = shopper.call("GET", "/api/v1/catalog/products/", params={"in_stock": "true", "page_size": 5})
    assert listing.status_code == 200, listing.text
    assert listing.headers.get("ETag")
    products = listing.json()["results"]
    assert products, "the demo catalog has products in stock"

    word = products[0]["name"].split()[0]
    search = shopper.call("GET", "/api/v1/catalog/products/", params={"q": word})
    assert search.status_code == 200 and search.json()["results"], f"search for {word!r} finds products"

    detail = shopper.call("GET", f"/api/v1/catalog/products/{products[0]['slug']}/")
    assert detail.status_code == 200, detail.text
    return detail.json()


def _order(shopper: Shopper, order_id: str) -> dict:
    response = shopper.call("GET", f"/api/v1/orders/{order_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def test_register_buy_ship_and_refund():
    shopper = Shopper()
    shopper.register_and_log_in()

    product = _a_product_in_stock(shopper)
    variant = next(variant for variant in product["variants"] if variant["available"] >= 1)
    added = shopper.call("POST", "/api/v1/orders/cart/lines/", json={"sku": variant["sku"], "quantity": 1})
    assert added.status_code in (200, 201), added.text
    cart = shopper.call("GET", "/api/v1/orders/cart/").json()
    assert [line["sku"] for line in cart["lines"]] == [variant["sku"]]

    # The shopper asks what shipping costs to their address, enters a code and picks express.
    quote = shopper.call("GET", "/api/v1/orders/cart/shipping-methods/", params={"country": ADDRESS["country"]})
    assert quote.status_code == 200, quote.text
    assert "express" in [method["code"] for method in quote.json()["methods"]]
    refused = shopper.call("POST", "/api/v1/orders/cart/voucher/", json={"code": "NO-SUCH-CODE"})
    assert (refused.status_code, refused.json()["code"]) == (422, "voucher_unknown")
    applied = shopper.call("POST", "/api/v1/orders/cart/voucher/", json={"code": "freeship"})
    assert applied.status_code == 200, applied.text
    shown = shopper.call("GET", "/api/v1/orders/cart/", params={"country": "GB", "shipping_method": "express"}).json()
    assert (shown["voucher_code"], shown["totals"]["shipping"]) == ("FREESHIP", "0.00")

    key = str(uuid.uuid4())
    body = {"shipping_address": ADDRESS, "payment_method_token": "tok_success", "shipping_method": "express"}
    placed = shopper.call("POST", "/api/v1/orders/", json=body, headers={"Idempotency-Key": key})
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    # Checkout charged exactly what the cart showed, with the code and the method chosen.
    assert placed.json()["total"] == shown["totals"]["total"]
    assert (placed.json()["voucher_code"], placed.json()["shipping_method"]) == ("FREESHIP", "express")
    replayed = shopper.call("POST", "/api/v1/orders/", json=body, headers={"Idempotency-Key": key})
    assert replayed.json()["id"] == order_id  # the same key places the order once

    confirmed = eventually(
        lambda: (order := _order(shopper, order_id))["status"] == "confirmed" and order, what="order confirmed"
    )
    assert Decimal(confirmed["total"]) > 0 and confirmed["payment_status"] == "captured"

    notifications = Staff("notifications")
    eventually(
        lambda: {"welcome", "order_confirmed"} <= set(delivery_templates(notifications, shopper.email)),
        what="welcome and confirmation emails logged",
    )

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

    orders_admin.post(f"orders/order/{order_id}/refund/", {"reason": "e2e full refund"})
    refunded = eventually(
        lambda: (order := _order(shopper, order_id))["status"] == "refunded" and order, what="order refunded"
    )
    assert refunded["payment_status"] == "refunded" and refunded["amount_refunded"] == refunded["total"]
    eventually(
        lambda: "payment_refunded" in delivery_templates(notifications, shopper.email), what="refund notice logged"
    )
