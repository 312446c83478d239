"""The cart's and the orders' answers are rendered by serializers kept per thread and reused
(api/serializers.py `rendered`): the same bodies as a new serializer's, whatever was rendered
before, and without building the serializers' fields again for every request."""

from __future__ import annotations

import json
import threading

import pytest
from rest_framework import fields

from apps.orders import selectors
from apps.orders.access import OrderGrant, order_access_token
from apps.orders.api import serializers as s
from apps.orders.api.views.checkout import IDEMPOTENCY_KEY_HEADER
from tests.orders.conftest import ADDRESS, client_for

pytestmark = pytest.mark.django_db(databases="__all__")

LINES = "/api/v1/orders/cart/lines/"


def _json(data) -> dict:
    return json.loads(json.dumps(data, default=str))


def test_a_reused_serializer_renders_what_a_new_one_does_whatever_it_rendered_before(
    place_order, catalog, shopper, other_shopper
):
    catalog.add("EUR-MUG", price="12.50", currency="EUR")
    catalog.add("JPY-CUP", price="900", currency="JPY")
    client = client_for(shopper)
    carts = []
    for sku in ("EUR-MUG", "JPY-CUP", "MUG-01"):  # euro cents, yen without minor unit, mixed
        client.post(LINES, {"sku": sku, "quantity": 2}, format="json")
        carts.append(selectors.cart_priced(cart=selectors.cart_get_for_customer(customer_id=shopper.id)))
    first = place_order(other_shopper, {"MUG-01": 1})
    second = place_order(other_shopper, {"TEE-RED-M": 3, "MUG-01": 1})
    orders = [
        selectors.order_get_granted(grant=OrderGrant(order_id=order.id, customer_id=None)) for order in (first, second)
    ]

    for cart in [*carts, *reversed(carts)]:
        assert _json(s.rendered(s.CartOutput, cart)) == _json(s.CartOutput(cart).data)
    for order in [*orders, *reversed(orders)]:
        assert _json(s.rendered(s.OrderDetailOutput, order)) == _json(s.OrderDetailOutput(order).data)
        context = {"access_token": order_access_token(order_id=order.id)}
        guest = s.rendered(s.GuestOrderOutput, order, context=context)
        assert _json(guest) == _json(s.GuestOrderOutput(order, context=context).data)
        assert guest["access_token"] == context["access_token"]


def test_each_thread_renders_with_its_own_serializer(place_order, shopper):
    order = selectors.order_get_granted(
        grant=OrderGrant(order_id=place_order(shopper, {"MUG-01": 1}).id, customer_id=None)
    )
    used = []

    def render() -> None:
        used.append(s.rendered(s.OrderDetailOutput, order).serializer)

    render()
    thread = threading.Thread(target=render)
    thread.start()
    thread.join()
    render()

    assert used[0] is used[2]
    assert used[1] is not used[0]


def test_the_cart_line_add_and_the_checkout_do_not_build_their_answers_fields_again(catalog, shopper, monkeypatch):
    client = client_for(shopper)
    # Once each, so the serializers kept for this thread exist.
    client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
    client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa"},
        format="json",
        **{f"HTTP_{IDEMPOTENCY_KEY_HEADER.upper().replace('-', '_')}": "first"},
    )
    built: list[type] = []
    field_init = fields.Field.__init__

    def counted(self, *args, **kwargs):
        built.append(type(self))
        field_init(self, *args, **kwargs)

    monkeypatch.setattr(fields.Field, "__init__", counted)

    response = client.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json")
    assert response.status_code == 200, response.json()
    # The input and the destination query, with their two and four fields; none of the answer's
    # 40-odd (the cart's, its lines' and totals': before, all built again for every request).
    assert [kind for kind in built if issubclass(kind, s.serializers.BaseSerializer)] == [
        s.CartLineAddInput,
        s.DestinationInput,
    ]
    assert len(built) == 8, built
    built.clear()

    response = client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa"},
        format="json",
        **{f"HTTP_{IDEMPOTENCY_KEY_HEADER.upper().replace('-', '_')}": "second"},
    )
    assert response.status_code == 201, response.json()
    # The input's, with the address's (none of the order's 60-odd output fields).
    assert [kind for kind in built if issubclass(kind, s.serializers.BaseSerializer)] == [
        s.CheckoutInput,
        s.ShippingAddressInput,
    ]
    assert s.MoneyField not in built
