"""The shopper present, in one process with the sandbox provider: 3-D Secure required,
authenticated at the bank's page and confirmed on the shopper's return; authentication failed,
then paid with another card; a decline that leaves the order waiting and a retry; an abandoned
authentication cancelled at the deadline with its stock released and the shopper told."""

from __future__ import annotations

import urllib.parse
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog.models import Stock
from apps.notifications.models import Delivery
from apps.orders.models import Order, OrderStatus
from apps.orders.services.saga import orders_expire_stalled
from apps.payments.models import PaymentIntent
from tests.orders.conftest import client_for, make_shopper
from tests.orders.test_full_saga import _checkout, seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


def _shopper_with_cart(sku: str):
    client = client_for(make_shopper())
    added = client.post("/api/v1/orders/cart/lines/", {"sku": sku, "quantity": 1}, format="json")
    assert added.status_code == 200, added.json()
    return client


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _authenticate(client, payment: dict) -> dict:
    """What the shopper's browser does: the bank's page (the redirect), then back to the return
    URL, which answers where the payment stands."""
    assert payment["next_action"]["type"] == "redirect_to_url"
    bank = client.get(_path(payment["next_action"]["redirect_url"]))
    assert bank.status_code == 302
    back = bank["Location"]
    assert back.startswith(payment["return_url"])
    answer = client.get(_path(back))
    assert answer.status_code == 200, answer.json()
    return answer.json()


def _stock(sku: str) -> tuple[int, int]:
    stock = Stock.objects.get(variant__sku=sku)
    return stock.on_hand, stock.reserved


def test_3ds_required_then_authenticated_confirms_the_order(live_catalog):
    seed("TDS-MUG", price="12.50", stock=3)
    client = _shopper_with_cart("TDS-MUG")

    response = _checkout(client, "tok_3ds_required", "tds-1")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == OrderStatus.PAYMENT_ACTION_REQUIRED
    payment = body["payment"]
    assert payment["status"] == "requires_action"
    assert payment["client_secret"] and payment["deadline"]
    assert _stock("TDS-MUG") == (3, 1)  # held while the shopper authenticates

    returned = _authenticate(client, payment)

    assert returned["status"] == "succeeded"
    order = client.get(f"/api/v1/orders/{body['id']}/").json()
    assert order["status"] == OrderStatus.CONFIRMED
    assert order["payment"]["client_secret"] == ""  # no secret kept once paid
    assert [c["to_status"] for c in order["status_history"]] == [
        "pending",
        "stock_reserved",
        "payment_action_required",
        "confirmed",
    ]
    assert _stock("TDS-MUG") == (2, 0)
    # Returning again changes nothing: the outcome was recorded once.
    again = client.get(_path(client.get(_path(payment["next_action"]["redirect_url"]))["Location"]))
    assert again.json()["status"] == "succeeded"
    assert Order.objects.get(pk=body["id"]).amount_captured == Order.objects.get(pk=body["id"]).total


def test_failed_authentication_then_another_card_confirms_the_order(live_catalog):
    seed("TDS-TEE", price="20.00", stock=1)
    client = _shopper_with_cart("TDS-TEE")
    body = _checkout(client, "tok_3ds_fail", "tds-2").json()

    returned = _authenticate(client, body["payment"])

    assert (returned["status"], returned["failure_code"]) == ("failed", "payment_intent_authentication_failure")
    waiting = client.get(f"/api/v1/orders/{body['id']}/").json()
    assert waiting["status"] == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert (waiting["payment"]["status"], waiting["payment"]["reason_code"]) == ("failed", "authentication_failed")
    assert _stock("TDS-TEE") == (1, 1)

    retry = client.post(waiting["payment"]["retry_url"], {"payment_method_token": "tok_visa"}, format="json")

    assert retry.status_code == 200, retry.json()
    assert (retry.json()["status"], retry.json()["attempt"]) == ("succeeded", 2)
    order = Order.objects.get(pk=body["id"])
    assert order.status == OrderStatus.CONFIRMED
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert intent.attempt_key == f"order-{order.id}-payment-2"
    assert _stock("TDS-TEE") == (0, 0)


def test_a_decline_leaves_the_order_waiting_and_a_declined_retry_is_a_402(live_catalog):
    seed("TDS-CAP", price="9.00", stock=2)
    client = _shopper_with_cart("TDS-CAP")
    body = _checkout(client, "tok_decline", "tds-3").json()

    assert body["status"] == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert (body["payment"]["status"], body["payment"]["failure_code"]) == ("failed", "card_declined")
    retry_url = body["payment"]["retry_url"]

    declined = client.post(retry_url, {"payment_method_token": "tok_insufficient_funds"}, format="json")
    assert declined.status_code == 402
    assert (declined.json()["code"], declined.json()["decline_code"]) == ("payment_declined", "insufficient_funds")
    made_up = client.post(retry_url, {"payment_method_token": "tok_made_up"}, format="json")
    assert (made_up.status_code, made_up.json()["code"]) == (422, "invalid_payment_method")
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.PAYMENT_ACTION_REQUIRED

    paid = client.post(retry_url, {"payment_method_token": "tok_3ds_required"}, format="json")
    assert paid.status_code == 200 and paid.json()["status"] == "requires_action"
    order = client.get(f"/api/v1/orders/{body['id']}/").json()
    assert order["payment"]["attempt"] == 4
    assert _authenticate(client, order["payment"])["status"] == "succeeded"
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    # Paid: no further attempt is accepted.
    late = client.post(retry_url, {"payment_method_token": "tok_visa"}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "payment_not_retryable")


def test_another_shopper_cannot_pay_or_return_for_the_order(live_catalog):
    seed("TDS-PEN", price="3.00", stock=2)
    client = _shopper_with_cart("TDS-PEN")
    body = _checkout(client, "tok_decline", "tds-4").json()

    stranger = client_for(make_shopper())
    answer = stranger.post(body["payment"]["retry_url"], {"payment_method_token": "tok_visa"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (404, "payment_not_found")
    wrong_secret = stranger.get("/api/v1/payments/return/?payment_intent=ch_x&payment_intent_client_secret=nope")
    assert (wrong_secret.status_code, wrong_secret.json()["code"]) == (404, "payment_return_unknown")
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.PAYMENT_ACTION_REQUIRED


def test_an_abandoned_authentication_is_cancelled_at_the_deadline_and_the_stock_released(live_catalog, settings):
    seed("TDS-HAT", price="15.00", stock=1)
    client = _shopper_with_cart("TDS-HAT")
    body = _checkout(client, "tok_3ds_required", "tds-5").json()
    order = Order.objects.get(pk=body["id"])
    deadline = order.payment_deadline
    assert deadline - order.created_at > timedelta(seconds=settings.ORDERS_PAYMENT_ACTION_SECONDS - 60)

    # The saga timeout does not touch a wait that is the shopper's...
    settings.ORDERS_SAGA_TIMEOUT_SECONDS = 0
    assert orders_expire_stalled(now=deadline - timedelta(seconds=1)) == 0
    assert Order.objects.get(pk=order.id).status == OrderStatus.PAYMENT_ACTION_REQUIRED

    # ...the deadline does.
    assert orders_expire_stalled(now=deadline) == 1

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_deadline")
    assert order.payment_action == {}
    assert _stock("TDS-HAT") == (1, 0)
    # The shopper is told, like every cancellation.
    told = Delivery.objects.filter(event_type="order.cancelled", customer_id=order.customer_id)
    assert told.filter(channel="email").exists()
    # Past the deadline, payments refuses another attempt.
    PaymentIntent.objects.filter(order_id=order.id).update(pay_by=timezone.now() - timedelta(seconds=1))
    late = client.post(f"/api/v1/payments/orders/{order.id}/attempts/", {"payment_method_token": "tok_visa"})
    assert (late.status_code, late.json()["code"]) == (409, "payment_deadline_passed")
