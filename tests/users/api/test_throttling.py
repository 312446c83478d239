"""Sign-in, registration and password reset are throttled per client: a 429 problem body."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")


def _rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


def test_login_is_throttled(api_client, customer):
    cache.clear()
    with _rates(login="2/minute"):
        attempts = [
            api_client.post("/api/v1/users/token/", {"email": customer.email, "password": "guess"}, format="json")
            for _ in range(3)
        ]

    assert [response.status_code for response in attempts[:2]] == [401, 401]
    assert_problem(attempts[2], status=429, code="throttled")
    assert int(attempts[2]["Retry-After"]) > 0


def test_register_is_throttled(api_client):
    cache.clear()
    with _rates(register="1/minute"):
        first = api_client.post("/api/v1/users/register/", {"email": "a@example.com"}, format="json")
        second = api_client.post("/api/v1/users/register/", {"email": "b@example.com"}, format="json")

    assert first.status_code == 400
    assert_problem(second, status=429, code="throttled")


def test_password_reset_is_throttled(api_client):
    cache.clear()
    with _rates(password_reset="1/minute"):
        first = api_client.post("/api/v1/users/password-reset/", {"email": "a@example.com"}, format="json")
        second = api_client.post("/api/v1/users/password-reset/", {"email": "a@example.com"}, format="json")

    assert first.status_code == 202
    assert_problem(second, status=429, code="throttled")
