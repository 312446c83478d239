"""Fixtures of the users tests: shoppers, signed-in clients, and the outbox to assert events on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from apps.users.models import Customer
from apps.users.tokens import access_token_issue
from tests.moto import moto, moto_endpoint  # noqa: F401 (fixtures: phone codes go by SNS SMS)
from tests.users import factories


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache; one test's requests must not count against another's.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def customer(db) -> Customer:
    return factories.customer()


@pytest.fixture
def other_customer(db) -> Customer:
    return factories.customer()


@pytest.fixture
def client_for() -> Callable[[Customer], APIClient]:
    def make(customer: Customer) -> APIClient:
        client = APIClient()
        token = access_token_issue(customer_id=customer.id, email=customer.email).token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return make


@pytest.fixture
def auth_client(customer, client_for) -> APIClient:
    return client_for(customer)
