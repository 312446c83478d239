"""Anonymous cart writes are throttled per trusted client address: new carts (a row and a catalog
call each) on their own budget, every cart change on another; a made-up X-Forwarded-For per
request changes nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from apps.orders.models import Cart
from tests.assertions import assert_problem
from tests.orders.conftest import client_for

pytestmark = pytest.mark.django_db(databases="__all__")

LINES = "/api/v1/orders/cart/lines/"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def _rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


def test_new_anonymous_carts_are_limited_per_client_address(catalog):
    client = client_for(None)
    with _rates(cart_create="2/hour"), override_settings(TRUSTED_PROXY_COUNT=1):
        responses = [
            client.post(LINES, {"sku": "MUG-01", "quantity": 1}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 10.0.0.1")
            for n in range(4)
        ]

    assert [response.status_code for response in responses[:2]] == [201, 201]
    assert_problem(responses[2], status=429, code="throttled")
    assert Cart.objects.count() == 2


def test_adding_to_an_existing_cart_spends_no_new_cart_budget(catalog):
    client = client_for(None)
    with _rates(cart_create="1/hour"):
        token = client.post(LINES, {"sku": "MUG-01", "quantity": 1}).json()["token"]
        more = [client.post(LINES, {"sku": "MUG-01", "quantity": 1}, HTTP_X_CART_TOKEN=token) for _ in range(3)]

    assert [response.status_code for response in more] == [200, 200, 200]


def test_anonymous_cart_changes_are_limited_per_client_address(catalog):
    client = client_for(None)
    with _rates(cart_write="3/minute"):
        token = client.post(LINES, {"sku": "MUG-01", "quantity": 1}).json()["token"]
        changes = [
            client.patch(f"{LINES}MUG-01/", {"quantity": 2}, HTTP_X_CART_TOKEN=token),
            client.post(LINES, {"sku": "MUG-01", "quantity": 1}, HTTP_X_CART_TOKEN=token),
            client.delete(f"{LINES}MUG-01/", HTTP_X_CART_TOKEN=token),
        ]
        reading = client.get("/api/v1/orders/cart/", HTTP_X_CART_TOKEN=token)

    assert [response.status_code for response in changes[:2]] == [200, 200]
    assert_problem(changes[2], status=429, code="throttled")
    assert reading.status_code == 200
