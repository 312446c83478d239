"""A guest paying again, in one process with the real services (catalog over HTTP under
live_server, the saga, payments' sandbox, notifications): the order's detail, opened with the
order's access token, carries the payment's `retry_url` and `retry_key`; with the key the guest
pays again at payments after a decline (another decline, then 3-D Secure) until the order is
confirmed. Payments checks the key against the SHA-256 orders sent it, so it needs nothing of
orders' signing key; another order's key, a key past the deadline or after payment opens nothing.
An account that claimed the guest order pays again the same way."""

from __future__ import annotations

import urllib.parse

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apps.catalog.models import Stock
from apps.orders.models import Order, OrderStatus
from apps.orders.services.guest import guest_orders_claim
from apps.orders.services.saga import orders_expire_stalled
from apps.payments.models import PaymentIntent, SandboxCharge
from tests.assertions import assert_problem
from tests.orders.conftest import ADDRESS, client_for, make_shopper
from tests.orders.test_full_saga import seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EMAIL = "guest.retry@example.com"


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


def _guest_order(sku: str, token: str, key: str, email: str = EMAIL) -> dict:
    """An anonymous cart checked out with an email: the guest's order, with its access token."""
    guest = APIClient()
    added = guest.post("/api/v1/orders/cart/lines/", {"sku": sku, "quantity": 1}, format="json")
    assert added.status_code == 201, added.json()
    checkout = guest.post(
        "/api/v1/orders/guest/",
        {"shipping_address": ADDRESS, "payment_method_token": token, "email": email},
        format="json",
        HTTP_X_CART_TOKEN=added.json()["token"],
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert checkout.status_code == 201, checkout.json()
    return checkout.json()


def _detail(order: dict) -> dict:
    """The order's page as the guest opens it (the access token only)."""
    answer = APIClient().get(f"/api/v1/orders/{order['id']}/", HTTP_X_ORDER_TOKEN=order["access_token"])
    assert answer.status_code == 200, answer.json()
    return answer.json()


def _pay_again(payment: dict, token: str, retry_key: str | None = None):
    """What the guest's client does with the order's payment block: no account, only the key."""
    body = {"payment_method_token": token, "retry_key": payment["retry_key"] if retry_key is None else retry_key}
    return APIClient().post(payment["retry_url"], body, format="json")


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _stock(sku: str) -> tuple[int, int]:
    stock = Stock.objects.get(variant__sku=sku)
    return stock.on_hand, stock.reserved


def _payment_state(order_id: str) -> tuple:
    intent = PaymentIntent.objects.get(order_id=order_id)
    return intent.status, intent.attempt, intent.updated_at, SandboxCharge.objects.count()


def test_a_guest_pays_again_after_a_decline_and_through_3d_secure(live_catalog):
    seed("GRETRY-MUG", price="12.50", stock=2)
    order = _guest_order("GRETRY-MUG", "tok_decline", "gretry-1")

    # the checkout's answer and the order's page say how to pay again, with the order's key
    assert order["status"] == OrderStatus.PAYMENT_ACTION_REQUIRED
    payment = _detail(order)["payment"]
    assert (payment["status"], payment["failure_code"]) == ("failed", "card_declined")
    assert payment["retry_url"] == f"/api/v1/payments/orders/{order['id']}/attempts/"
    assert payment["retry_key"] and payment["retry_key"] == order["payment"]["retry_key"]
    assert _stock("GRETRY-MUG") == (2, 1)  # held while the guest pays again

    # another decline: a 402 problem, and the order still waits, with the same key
    declined = _pay_again(payment, "tok_insufficient_funds")
    assert (declined.status_code, declined.json()["decline_code"]) == (402, "insufficient_funds")
    again = _detail(order)["payment"]
    assert (again["attempt"], again["failure_code"]) == (2, "insufficient_funds")
    assert again["retry_key"] == payment["retry_key"]

    # a card with 3-D Secure: the answer and the page say what to complete
    action = _pay_again(again, "tok_3ds_required")
    assert action.status_code == 200, action.json()
    assert (action.json()["status"], action.json()["attempt"]) == ("requires_action", 3)
    waiting = _detail(order)["payment"]
    assert waiting["client_secret"] == action.json()["client_secret"] and waiting["next_action"]
    bank = APIClient().get(_path(waiting["next_action"]["redirect_url"]))
    assert bank.status_code == 302 and bank["Location"].startswith(waiting["return_url"])
    returned = APIClient().get(_path(bank["Location"]))
    assert returned.json()["status"] == "succeeded"

    # confirmed: nothing left to pay with, and the key opens nothing more
    confirmed = _detail(order)
    assert confirmed["status"] == OrderStatus.CONFIRMED
    assert (confirmed["payment"]["retry_url"], confirmed["payment"]["retry_key"]) == ("", "")
    assert Order.objects.get(pk=order["id"]).payment_action == {}
    late = _pay_again(payment, "tok_visa")
    assert_problem(late, status=409, code="payment_not_retryable")
    assert _stock("GRETRY-MUG") == (1, 0)
    number = confirmed["number"]
    assert [m.to for m in mail.outbox if m.subject.startswith(f"Order {number}")] == [[EMAIL]]


def test_another_orders_key_or_no_key_pays_nothing_and_the_page_needs_the_token(live_catalog):
    seed("GRETRY-TEE", price="20.00", stock=2)
    order = _guest_order("GRETRY-TEE", "tok_decline", "gretry-2")
    other = _guest_order("GRETRY-TEE", "tok_decline", "gretry-3", email="another.guest@example.com")
    payment, other_key = _detail(order)["payment"], _detail(other)["payment"]["retry_key"]
    assert other_key != payment["retry_key"]
    before = _payment_state(order["id"])

    # another guest's key, or none at all
    assert_problem(_pay_again(payment, "tok_visa", retry_key=other_key), status=404, code="payment_not_found")
    anonymous = APIClient().post(payment["retry_url"], {"payment_method_token": "tok_visa"}, format="json")
    assert_problem(anonymous, status=401, code="not_authenticated")
    # and the key is on no page a stranger can open
    assert APIClient().get(f"/api/v1/orders/{order['id']}/").status_code == 401
    stranger = client_for(make_shopper()).get(f"/api/v1/orders/{order['id']}/")
    assert_problem(stranger, status=404, code="order_not_found")

    assert _payment_state(order["id"]) == before
    assert Order.objects.get(pk=order["id"]).status == OrderStatus.PAYMENT_ACTION_REQUIRED


def test_past_the_deadline_the_key_pays_nothing_and_the_page_no_longer_shows_it(live_catalog):
    seed("GRETRY-HAT", price="15.00", stock=1)
    order = _guest_order("GRETRY-HAT", "tok_decline", "gretry-4")
    payment = _detail(order)["payment"]
    deadline = Order.objects.get(pk=order["id"]).payment_deadline

    assert orders_expire_stalled(now=deadline) == 1
    PaymentIntent.objects.filter(order_id=order["id"]).update(pay_by=timezone.now())
    before = _payment_state(order["id"])

    cancelled = _detail(order)
    assert (cancelled["status"], cancelled["cancel_reason"]) == (OrderStatus.CANCELLED, "payment_deadline")
    assert (cancelled["payment"]["retry_url"], cancelled["payment"]["retry_key"]) == ("", "")
    assert_problem(_pay_again(payment, "tok_visa"), status=409, code="payment_deadline_passed")
    assert _payment_state(order["id"]) == before
    assert _stock("GRETRY-HAT") == (1, 0)


def test_an_account_that_claimed_the_guest_order_pays_again_with_the_key_its_page_shows(live_catalog):
    seed("GRETRY-PEN", price="3.00", stock=1)
    order = _guest_order("GRETRY-PEN", "tok_decline", "gretry-5")
    shopper = make_shopper()
    assert guest_orders_claim(customer_id=shopper.id, email=EMAIL) == 1
    account = client_for(shopper)

    payment = account.get(f"/api/v1/orders/{order['id']}/").json()["payment"]
    paid = account.post(
        payment["retry_url"], {"payment_method_token": "tok_visa", "retry_key": payment["retry_key"]}, format="json"
    )

    assert paid.status_code == 200, paid.json()
    assert Order.objects.get(pk=order["id"]).status == OrderStatus.CONFIRMED
