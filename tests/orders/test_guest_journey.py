"""A guest's whole journey in one process, through the APIs, with the real services on every side
(catalog over HTTP under live_server, the saga, payments' sandbox, notifications' emails): an
anonymous cart checks out with an email; the confirmation email links the order page with the
order's token, which opens it; the guest cancels nothing but reads; later they register with the
same email, and the order joins the account only once the emailed verification link is opened."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail

from apps.orders.models import Order, OrderStatus
from tests.orders.conftest import ADDRESS
from tests.orders.test_full_saga import seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EMAIL = "guest.journey@example.com"
PASSWORD = "a-long-and-unusual-passphrase"


@pytest.fixture
def catalog_over_http(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    settings.SHOP_FRONTEND_URL = "https://shop.example.com"


def _link(pattern: str) -> str:
    for email in reversed(mail.outbox):
        match = re.search(pattern, email.body)
        if match:
            return match.group(0)
    raise AssertionError(f"no email links {pattern}: {[email.subject for email in mail.outbox]}")


def test_guest_checkout_to_the_confirmation_email_order_page_and_account(catalog_over_http, api_client):
    seed("GUEST-MUG", price="12.50", stock=5)

    added = api_client.post("/api/v1/orders/cart/lines/", {"sku": "GUEST-MUG", "quantity": 2}, format="json")
    assert added.status_code == 201, added.json()
    checkout = api_client.post(
        "/api/v1/orders/guest/",
        {"shipping_address": ADDRESS, "payment_method_token": "tok_visa", "email": EMAIL},
        format="json",
        HTTP_X_CART_TOKEN=added.json()["token"],
        HTTP_IDEMPOTENCY_KEY="guest-journey-1",
    )
    assert checkout.status_code == 201, checkout.json()
    order_id = checkout.json()["id"]
    order = Order.objects.get(pk=order_id)
    assert order.status == OrderStatus.CONFIRMED and order.customer_id is None

    # The confirmation email goes to the guest and links the order page with the order's token.
    confirmation = next(email for email in mail.outbox if email.subject.startswith(f"Order {order.number}"))
    assert confirmation.to == [EMAIL]
    link = _link(rf"https://shop\.example\.com/orders/{order_id}\?token=\S+")
    token = parse_qs(urlsplit(link).query)["token"][0]
    page = api_client.get(f"/api/v1/orders/{order_id}/", HTTP_X_ORDER_TOKEN=token)
    assert page.status_code == 200, page.json()
    assert page.json()["status"] == "confirmed"

    # Registering with the same email shows nothing yet: the address is not proven.
    registered = api_client.post("/api/v1/users/register/", {"email": EMAIL, "password": PASSWORD}, format="json")
    assert registered.status_code == 201, registered.content
    signed_in = api_client.post("/api/v1/users/token/", {"email": EMAIL, "password": PASSWORD}, format="json")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['access_token']}")
    assert api_client.get("/api/v1/orders/").json()["results"] == []

    verify_link = _link(r"https://shop\.example\.com/verify-email\?token=\S+")
    verified = api_client.post(
        "/api/v1/users/email/verify/", {"token": parse_qs(urlsplit(verify_link).query)["token"][0]}, format="json"
    )
    assert verified.status_code == 204, verified.content

    listed = api_client.get("/api/v1/orders/").json()["results"]
    assert [entry["id"] for entry in listed] == [order_id]
    assert api_client.get(f"/api/v1/orders/{order_id}/").status_code == 200
