"""Staff sign-in to the admin (django-axes, counted in the Django cache): wrong passwords lock the
username out, and the client address, which comes from the trusted proxy hops only."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db(databases="__all__")

LOGIN = f"/{settings.ADMIN_URL}login/"
PASSWORD = "a-staff-passphrase-1"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("staffer", password=PASSWORD, is_staff=True, is_superuser=True)


def _sign_in(username: str, password: str, *, remote: str = "198.51.100.1", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post(LOGIN, {"username": username, "password": password, "next": "/"}, **extra)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_passwords_from_many_addresses_lock_the_username_out(staff):
    codes = [_sign_in("staffer", "wrong", remote=f"198.51.100.{n}").status_code for n in range(1, 4)]

    response = _sign_in("staffer", PASSWORD, remote="198.51.100.9")

    assert codes[:2] == [200, 200]  # the form again, with its error
    assert response.status_code == 429


@override_settings(AXES_FAILURE_LIMIT=3, TRUSTED_PROXY_COUNT=1)
def test_a_new_forwarded_for_per_attempt_does_not_escape_the_address_lockout(staff):
    for n in range(3):
        _sign_in(f"guess{n}", "wrong", forwarded=f"203.0.113.{n}, 10.0.0.1")

    response = _sign_in("staffer", PASSWORD, forwarded="203.0.113.99, 10.0.0.1")

    assert response.status_code == 429


def test_the_right_password_signs_in(staff):
    assert _sign_in("staffer", PASSWORD).status_code == 302
