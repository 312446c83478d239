"""Sign-in, token rotation, registration and password reset are throttled per client address (the
trusted one: a new X-Forwarded-For per request changes nothing), password reset also per email,
password change per account: a 429 problem body."""

from __future__ import annotations

import itertools

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.users import factories
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

LOGIN = "/api/v1/users/token/"
RESET = "/api/v1/users/password-reset/"
_forged = (f"203.0.113.{n}" for n in itertools.count(1))


def _rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
    )


def _forging(client, proxy_hop="10.0.0.1"):
    """A client writing a new X-Forwarded-For on every request, behind one trusted proxy."""
    post = client.post

    def forged_post(*args, **kwargs):
        return post(*args, HTTP_X_FORWARDED_FOR=f"{next(_forged)}, {proxy_hop}", **kwargs)

    client.post = forged_post
    return client


def test_login_is_throttled(api_client, customer):
    with _rates(login="2/minute"):
        attempts = [api_client.post(LOGIN, {"email": customer.email, "password": "guess"}) for _ in range(3)]

    assert [response.status_code for response in attempts[:2]] == [401, 401]
    assert_problem(attempts[2], status=429, code="throttled")
    assert int(attempts[2]["Retry-After"]) > 0


@pytest.mark.parametrize("hops", [0, 1])
def test_a_new_forwarded_for_per_request_does_not_escape_the_login_throttle(api_client, hops):
    # Given a client that makes up X-Forwarded-For on every request (emails vary: no lockout)
    _forging(api_client)

    # When it tries more passwords than the budget allows
    with _rates(login="3/minute"), override_settings(TRUSTED_PROXY_COUNT=hops):
        codes = [api_client.post(LOGIN, {"email": f"u{n}@example.com", "password": "x"}).status_code for n in range(5)]

    # Then it is throttled all the same: the proxy's entry (or the peer) names it, not its own
    assert codes == [401, 401, 401, 429, 429]


def test_clients_told_apart_by_the_trusted_hop_have_their_own_budgets(api_client, customer):
    with _rates(login="1/minute"), override_settings(TRUSTED_PROXY_COUNT=1):
        first = api_client.post(LOGIN, {"email": "a@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.1")
        other = api_client.post(LOGIN, {"email": "b@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert first.status_code == other.status_code == 401


def test_register_is_throttled(api_client):
    _forging(api_client)
    with _rates(register="1/minute"):
        first = api_client.post("/api/v1/users/register/", {"email": "a@example.com"})
        second = api_client.post("/api/v1/users/register/", {"email": "b@example.com"})

    assert first.status_code == 400
    assert_problem(second, status=429, code="throttled")


def test_password_reset_is_throttled(api_client):
    _forging(api_client)
    with _rates(password_reset="1/minute"):
        first = api_client.post(RESET, {"email": "a@example.com"})
        second = api_client.post(RESET, {"email": "b@example.com"})

    assert first.status_code == 202
    assert_problem(second, status=429, code="throttled")


def test_reset_emails_to_one_address_are_limited_whatever_address_asks(customer):
    # Given requests for one victim's email from many real client addresses
    with _rates(password_reset="100/minute", password_reset_account="2/minute"):
        codes = [
            APIClient(REMOTE_ADDR=f"198.51.100.{n}").post(RESET, {"email": customer.email.upper()}).status_code
            for n in range(1, 5)
        ]
        unknown = [
            APIClient(REMOTE_ADDR=f"198.51.100.{n}").post(RESET, {"email": "nobody@example.com"}).status_code
            for n in range(1, 5)
        ]

    # Then the email's own budget stops them, and an unknown email is answered the same way
    assert codes == unknown == [202, 202, 429, 429]


@pytest.mark.parametrize(
    ("path", "scope", "body"),
    [
        ("/api/v1/users/token/refresh/", "token", {"refresh_token": "x" * 64}),
        ("/api/v1/users/token/revoke/", "token", {"refresh_token": "x" * 64}),
        ("/api/v1/users/password-reset/confirm/", "password_reset_confirm", {"token": "x" * 64, "new_password": "y"}),
    ],
)
def test_token_and_reset_confirm_endpoints_are_throttled(api_client, path, scope, body):
    _forging(api_client)
    with _rates(**{scope: "1/minute"}):
        api_client.post(path, body)
        response = api_client.post(path, body)

    assert_problem(response, status=429, code="throttled")


def test_password_change_is_throttled_per_account(client_for, customer):
    # Given two clients (two addresses) of one signed-in shopper
    body = {"current_password": factories.PASSWORD, "new_password": "short"}
    with _rates(password_change="1/minute"):
        first = client_for(customer).post("/api/v1/users/me/password/", body, REMOTE_ADDR="198.51.100.1")
        second = client_for(customer).post("/api/v1/users/me/password/", body, REMOTE_ADDR="198.51.100.2")

    assert first.status_code == 400
    assert_problem(second, status=429, code="throttled")
