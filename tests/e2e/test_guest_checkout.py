"""Guest checkout over HTTP, in either shape: an anonymous cart checks out with an email; the
order's access token opens the order page, which reaches confirmed; the confirmation email goes to
that address and links the order page with the token, which the delivery log never shows; a
forged token opens nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.client import Shopper, Staff, delivery_text, eventually, payment_token

pytestmark = pytest.mark.e2e

ADDRESS = {
    "full_name": "Gus Guest",
    "line1": "1 Loopback Lane",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}


def test_guest_checkout_to_the_confirmation_email_and_order_page():
    guest = Shopper()  # never registers: no access token
    _, sku = guest.in_stock_variant(offset=30, units=1)
    added = guest.call("POST", "/api/v1/orders/cart/lines/", json={"sku": sku, "quantity": 1})
    assert added.status_code == 201, added.text

    placed = guest.call(
        "POST",
        "/api/v1/orders/guest/",
        json={"shipping_address": ADDRESS, "payment_method_token": payment_token(), "email": guest.email},
        headers={"X-Cart-Token": added.json()["token"], "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    order_id, token = placed.json()["id"], placed.json()["access_token"]

    def page() -> dict:
        response = guest.call("GET", f"/api/v1/orders/{order_id}/", headers={"X-Order-Token": token})
        assert response.status_code == 200, response.text
        return response.json()

    eventually(lambda: page()["status"] == "confirmed", what="the guest order confirmed")
    assert guest.call("GET", f"/api/v1/orders/{order_id}/").status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert guest.call("GET", f"/api/v1/orders/{order_id}/", headers={"X-Order-Token": forged}).status_code == 404

    notifications = Staff("notifications")
    text = eventually(
        lambda: delivery_text(notifications, guest.email, "order_confirmed"), what="the confirmation email logged"
    )
    # The email links the order page with the token; the log shows the link with the token redacted.
    assert f"/orders/{order_id}?token=[redacted]" in text, text
    assert token.rsplit(":", 1)[-1] not in text
