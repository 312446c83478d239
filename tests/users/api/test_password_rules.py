"""A password must be made of visible characters: whitespace-only or invisible padding is refused,
and so is whitespace at either end, in registration, password change and password reset alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.users.models import Customer, PasswordResetToken
from apps.users.tokens import new_secret, secret_hash
from tests.users import factories
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

WEAK = [
    " " * 8,
    "\u00a0" * 8,  # no-break spaces
    "\u2003\u3000\t \u00a0\u2009\u200a ",  # every other kind of space
    "ab\u200b\u200b\u200b\u200b\u200b\u200bcd",  # zero-width spaces do not make it longer
    "abcd    ",  # padded to the length with trailing spaces
    " long-enough-passphrase",
    "long-enough-passphrase\u00a0",
]


@pytest.mark.parametrize("password", WEAK)
def test_register_refuses_invisible_or_edge_whitespace(api_client, password):
    response = api_client.post("/api/v1/users/register/", {"email": "new@example.com", "password": password})

    body = assert_problem(response, status=400, code="invalid")
    assert body["errors"]["password"]
    assert not Customer.objects.exists()


def test_inner_spaces_are_fine(api_client):
    response = api_client.post(
        "/api/v1/users/register/", {"email": "new@example.com", "password": "correct horse battery staple"}
    )

    assert response.status_code == 201


@pytest.mark.parametrize("password", WEAK)
def test_password_change_refuses_invisible_or_edge_whitespace(auth_client, customer, password):
    response = auth_client.post(
        "/api/v1/users/me/password/", {"current_password": factories.PASSWORD, "new_password": password}
    )

    body = assert_problem(response, status=400, code="invalid")
    assert body["errors"]["new_password"]
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)


@pytest.mark.parametrize("password", WEAK)
def test_password_reset_refuses_invisible_or_edge_whitespace(api_client, customer, password):
    token = new_secret()
    now = timezone.now()
    PasswordResetToken.objects.create(
        customer=customer, token_hash=secret_hash(token), created_at=now, expires_at=now + timedelta(hours=1)
    )

    response = api_client.post("/api/v1/users/password-reset/confirm/", {"token": token, "new_password": password})

    body = assert_problem(response, status=400, code="invalid")
    assert body["errors"]["new_password"]
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)
