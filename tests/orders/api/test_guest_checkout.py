"""Guest checkout: an anonymous cart (X-Cart-Token) checks out with an email address into an order
of no account; the answer's access token (X-Order-Token) opens that order, and only that order,
for reading and cancelling; a forged, another order's or an expired token opens nothing. Guest
events are version 2 (customer_id None) and carry the token only sealed."""

from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.test import override_settings

from apps.core.sealing import unseal
from apps.orders.models import Cart, CartLine, Order, OrderStatus, OutboxEvent, Voucher
from tests.assertions import assert_problem
from tests.orders.conftest import ADDRESS, advance_to_confirmed, client_for, make_shopper, published

pytestmark = pytest.mark.django_db(databases="__all__")

LINES = "/api/v1/orders/cart/lines/"
GUEST = "/api/v1/orders/guest/"
ORDERS = "/api/v1/orders/"
EMAIL = "Guest.Shopper@Example.com"
BODY = {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa", "email": EMAIL}


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def anonymous_cart(sku: str = "MUG-01", quantity: int = 2) -> str:
    response = client_for(None).post(LINES, {"sku": sku, "quantity": quantity}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["token"]


def guest_checkout(cart_token: str | None, body=BODY, key: str | None = "guest-key-1", client=None):
    headers = {}
    if cart_token is not None:
        headers["HTTP_X_CART_TOKEN"] = cart_token
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return (client or client_for(None)).post(GUEST, body, format="json", **headers)


def placed(sku: str = "MUG-01", email: str = EMAIL) -> tuple[dict, str]:
    """A guest order through the API: its body and its access token."""
    response = guest_checkout(anonymous_cart(sku), body={**BODY, "email": email}, key=uuid.uuid4().hex)
    assert response.status_code == 201, response.json()
    return response.json(), response.json()["access_token"]


def order_url(order_id: str, action: str = "") -> str:
    return f"{ORDERS}{order_id}/{action}"


def with_token(token: str) -> dict[str, str]:
    return {"HTTP_X_ORDER_TOKEN": token}


# --- Checkout ------------------------------------------------------------------------------------


def test_a_guest_checks_out_an_anonymous_cart_into_an_order_of_no_account(catalog):
    cart_token = anonymous_cart()

    response = guest_checkout(cart_token)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["email"] == "guest.shopper@example.com"  # stored as users stores an account's email
    assert body["total"] == "35.88"  # (2 x 12.50 + 4.90 shipping) + 20 % tax
    assert body["access_token"]
    order = Order.objects.get()
    assert order.customer_id is None and order.email == "guest.shopper@example.com"
    assert order.guest_cart_id == Cart.objects.get().id
    assert not CartLine.objects.exists()  # the cart was emptied
    assert [change.actor for change in order.status_changes.all()] == ["guest"]
    [created] = published("order.created", order)
    assert created["customer_id"] is None
    assert OutboxEvent.objects.get(event_type="order.created").version == 2


def test_the_answer_is_the_order_as_read_back_with_its_token(catalog, monkeypatch):
    monkeypatch.setattr("apps.orders.api.views.checkout.handlers_run_inline", lambda: False)  # split

    body, token = placed()

    again = client_for(None).get(order_url(body["id"]), **with_token(token)).json()
    assert {key: body[key] for key in again} == again


def test_a_signed_in_shoppers_order_events_stay_version_1(place_order, shopper):
    order = place_order(shopper)

    row = OutboxEvent.objects.get(event_type="order.created")
    assert row.version == 1 and row.payload["customer_id"] == str(order.customer_id)


@pytest.mark.parametrize("email", ["not-an-email", "", "a@", None])
def test_a_bad_email_is_a_400_problem_and_changes_nothing(catalog, email):
    cart_token = anonymous_cart()
    body = {**BODY, "email": email} if email is not None else {k: v for k, v in BODY.items() if k != "email"}

    response = guest_checkout(cart_token, body=body)

    problem = assert_problem(response, status=400, code="invalid")
    assert "email" in problem["errors"]
    assert not Order.objects.exists()
    assert CartLine.objects.count() == 1


def test_no_cart_token_is_400_and_an_unknown_one_404(catalog):
    assert_problem(guest_checkout(None), status=400, code="invalid")
    assert_problem(guest_checkout("made-up-cart-token"), status=404, code="cart_not_found")
    assert_problem(guest_checkout(anonymous_cart(), key=None), status=400, code="idempotency_key_required")
    assert not Order.objects.exists()


def test_the_same_key_and_body_replays_the_order_and_another_email_is_refused(catalog):
    cart_token = anonymous_cart()
    first = guest_checkout(cart_token)
    again = guest_checkout(cart_token)
    other = guest_checkout(cart_token, body={**BODY, "email": "someone.else@example.com"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert_problem(other, status=422, code="idempotency_key_reused")
    assert Order.objects.count() == 1


def test_a_merged_cart_cannot_be_checked_out_as_a_guest(catalog):
    cart_token = anonymous_cart()
    shopper = client_for(make_shopper())
    assert shopper.post(f"{ORDERS}cart/merge/", HTTP_X_CART_TOKEN=cart_token).status_code == 200

    assert_problem(guest_checkout(cart_token), status=404, code="cart_not_found")
    assert not Order.objects.exists()


def test_a_voucher_limited_per_shopper_needs_an_account(catalog):
    Voucher.objects.create(code="ONCE", kind="percentage", value=10, per_customer_limit=1)
    cart_token = anonymous_cart()
    assert (
        client_for(None)
        .post(f"{ORDERS}cart/voucher/", {"code": "once"}, format="json", HTTP_X_CART_TOKEN=cart_token)
        .status_code
        == 200
    )

    response = guest_checkout(cart_token)

    assert_problem(response, status=422, code="voucher_customer_limit")
    assert not Order.objects.exists()
    assert Voucher.objects.get(code="ONCE").used_count == 0


def test_guest_checkout_is_throttled_per_client_address_and_per_email(catalog):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "guest_checkout": "2/hour"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        answers = [guest_checkout(anonymous_cart(), key=uuid.uuid4().hex).status_code for _ in range(3)]
    assert answers == [201, 201, 429]

    cache.clear()
    rates = {**rates, "guest_checkout": "100/hour", "guest_checkout_account": "1/hour"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        same_email = guest_checkout(anonymous_cart(), key=uuid.uuid4().hex)
        same_again = guest_checkout(anonymous_cart(), key=uuid.uuid4().hex)
        other_email = guest_checkout(anonymous_cart(), body={**BODY, "email": "b@example.com"}, key="k2")
    assert same_email.status_code == 201
    assert_problem(same_again, status=429, code="throttled")
    assert other_email.status_code == 201
    assert Order.objects.count() == 4


# --- The order access token ------------------------------------------------------------------------


def test_the_access_token_opens_the_order(catalog):
    body, token = placed()

    response = client_for(None).get(order_url(body["id"]), **with_token(token))

    assert response.status_code == 200, response.json()
    assert response.json()["number"] == body["number"]
    assert response.json()["status_history"][0]["to_status"] == "pending"


def test_without_a_token_or_sign_in_a_guest_order_is_401(catalog):
    body, _ = placed()

    assert client_for(None).get(order_url(body["id"])).status_code == 401


def test_a_forged_token_or_another_orders_token_opens_nothing(catalog):
    mine, my_token = placed("MUG-01")
    theirs, their_token = placed("TEE-RED-M", email="other@example.com")
    forged = their_token.replace(theirs["id"], mine["id"])  # the right id under another order's signature
    client = client_for(None)

    for token in (forged, their_token, "garbage", my_token[:-2] + "xx", signing.TimestampSigner().sign(mine["id"])):
        response = client.get(order_url(mine["id"]), **with_token(token))
        problem = assert_problem(response, status=404, code="order_not_found")
        assert mine["number"] not in response.content.decode() and "detail" in problem


def test_an_unknown_order_with_a_token_is_404_like_a_forged_one(catalog):
    _, token = placed()

    response = client_for(None).get(order_url(str(uuid.uuid4())), **with_token(token))

    assert_problem(response, status=404, code="order_not_found")


def test_an_expired_token_is_401_order_token_expired(catalog, monkeypatch):
    body, _ = placed()
    days = settings.ORDERS_ACCESS_TOKEN_DAYS
    real_time = time.time
    from apps.orders.access import order_access_token

    # A token signed just past the lifetime ago.
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - days * 86400 - 60)
    old = order_access_token(order_id=uuid.UUID(body["id"]))
    monkeypatch.setattr(signing.time, "time", real_time)

    response = client_for(None).get(order_url(body["id"]), **with_token(old))

    assert_problem(response, status=401, code="order_token_expired")


def test_a_signed_in_stranger_sees_no_guest_order_but_the_token_works_for_anyone(catalog):
    body, token = placed()
    stranger = client_for(make_shopper())

    assert_problem(stranger.get(order_url(body["id"])), status=404, code="order_not_found")
    assert stranger.get(order_url(body["id"]), **with_token(token)).status_code == 200


def test_a_guest_cancels_with_the_token(catalog):
    body, token = placed()

    response = client_for(None).post(order_url(body["id"], "cancel/"), **with_token(token))

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    order = Order.objects.get(pk=body["id"])
    assert order.status == OrderStatus.CANCELLED
    assert order.status_changes.last().actor == "guest"
    [cancelled] = published("order.cancelled", order)
    assert cancelled["customer_id"] is None and cancelled["email"] == "guest.shopper@example.com"


def test_a_forged_token_cancels_nothing(catalog):
    mine, _ = placed("MUG-01")
    _, their_token = placed("TEE-RED-M", email="other@example.com")

    response = client_for(None).post(order_url(mine["id"], "cancel/"), **with_token(their_token))

    assert_problem(response, status=404, code="order_not_found")
    assert Order.objects.get(pk=mine["id"]).status == OrderStatus.PENDING
    assert not OutboxEvent.objects.filter(event_type="order.cancelled").exists()


def test_the_token_travels_only_sealed_in_events(catalog):
    body, token = placed()

    client_for(None).post(order_url(body["id"], "cancel/"), **with_token(token))

    [cancelled] = published("order.cancelled", Order.objects.get(pk=body["id"]))
    sealed = cancelled["sealed_access_token"]
    opened = unseal(sealed)
    # The sealed token is a working token for this order, and no event carries one in the clear.
    assert client_for(None).get(order_url(body["id"]), **with_token(opened)).status_code == 200
    assert token.split(":")[0] == opened.split(":")[0] == body["id"]
    for row in OutboxEvent.objects.all():
        assert token not in str(row.payload) and opened not in str(row.payload)


def test_a_shoppers_order_events_carry_no_token(place_order, shopper):
    order = place_order(shopper)
    client_for(shopper).post(order_url(str(order.id), "cancel/"))

    [cancelled] = published("order.cancelled", order)
    assert cancelled["sealed_access_token"] == "" and cancelled["customer_id"] == str(shopper.id)


def test_a_guest_orders_saga_speaks_version_2_and_its_confirmation_carries_the_sealed_token(catalog):
    body, _ = placed()
    order = Order.objects.get(pk=body["id"])

    order = advance_to_confirmed(order)

    assert order.status == OrderStatus.CONFIRMED
    [requested] = published("payment.requested", order)
    [confirmed] = published("order.confirmed", order)
    assert requested["customer_id"] is None and confirmed["customer_id"] is None
    assert confirmed["email"] == "guest.shopper@example.com"
    assert unseal(confirmed["sealed_access_token"]).split(":")[0] == body["id"]
    versions = set(
        OutboxEvent.objects.filter(event_type__in=["payment.requested", "order.confirmed"]).values_list(
            "version", flat=True
        )
    )
    assert versions == {2}
