"""Sign-in, refresh-token rotation with reuse detection, and sign-out."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from apps.core.auth.keys import signing_key
from apps.core.auth.tokens import verify_access_token
from apps.users.models import RefreshToken
from apps.users.tokens import secret_hash
from tests.users import factories
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

LOGIN = "/api/v1/users/token/"
REFRESH = "/api/v1/users/token/refresh/"
REVOKE = "/api/v1/users/token/revoke/"
ME = "/api/v1/users/me/"


def _login(client, customer, password=factories.PASSWORD):
    response = client.post(LOGIN, {"email": customer.email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _refresh(client, refresh_token):
    return client.post(REFRESH, {"refresh_token": refresh_token}, format="json")


def test_login_returns_a_verifiable_access_token_and_a_refresh_token(api_client, customer):
    body = _login(api_client, customer)

    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= settings.JWT_ACCESS_TOKEN_SECONDS
    assert 0 < body["refresh_expires_in"] <= settings.JWT_REFRESH_TOKEN_SECONDS
    user = verify_access_token(body["access_token"])
    assert (user.id, user.email) == (customer.id, customer.email)
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": "RS256", "kid": signing_key()[0], "typ": "JWT"}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == settings.JWT_ISSUER
    assert claims["aud"] == settings.JWT_AUDIENCE
    assert claims["typ"] == "access"
    assert claims["exp"] - int(claims["iat"]) == settings.JWT_ACCESS_TOKEN_SECONDS
    assert claims["jti"]
    # Only the hash of the refresh token is stored.
    stored = RefreshToken.objects.get(customer=customer)
    assert stored.token_hash == secret_hash(body["refresh_token"])
    assert body["refresh_token"] not in stored.token_hash
    customer.refresh_from_db()
    assert customer.last_login is not None


def test_login_ignores_the_case_of_the_email(api_client, customer):
    response = api_client.post(LOGIN, {"email": customer.email.upper(), "password": factories.PASSWORD}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("shopper@example.com", "wrong-password"), ("nobody@example.com", factories.PASSWORD)],
)
def test_wrong_email_or_password_is_one_and_the_same_401(api_client, email, password):
    factories.customer(email="shopper@example.com")

    response = api_client.post(LOGIN, {"email": email, "password": password}, format="json")

    assert_problem(response, status=401, code="invalid_credentials")
    assert RefreshToken.objects.count() == 0


def test_a_deactivated_customer_cannot_sign_in(api_client):
    customer = factories.customer(is_active=False)

    response = api_client.post(LOGIN, {"email": customer.email, "password": factories.PASSWORD}, format="json")

    assert_problem(response, status=401, code="invalid_credentials")


def test_login_with_missing_fields_is_400(api_client):
    body = assert_problem(api_client.post(LOGIN, {"email": "x@example.com"}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"password"}


def test_refresh_rotates_the_token(api_client, customer):
    first = _login(api_client, customer)

    response = _refresh(api_client, first["refresh_token"])

    assert response.status_code == 200, response.content
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert verify_access_token(second["access_token"]).id == customer.id
    old = RefreshToken.objects.get(token_hash=secret_hash(first["refresh_token"]))
    new = RefreshToken.objects.get(token_hash=secret_hash(second["refresh_token"]))
    assert old.revoked_at is not None and old.revoke_reason == "rotated"
    assert new.revoked_at is None and new.family_id == old.family_id
    # The new one works in turn.
    assert _refresh(api_client, second["refresh_token"]).status_code == 200


@override_settings(USERS_REFRESH_GRACE_SECONDS=0)
def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(api_client, customer):
    first = _login(api_client, customer)
    second = _refresh(api_client, first["refresh_token"]).json()
    other_session = _login(api_client, customer)

    response = _refresh(api_client, first["refresh_token"])

    assert_problem(response, status=401, code="refresh_token_reused")
    # The thief's (or the shopper's) newer token of that family is dead too...
    assert_problem(_refresh(api_client, second["refresh_token"]), status=401, code="refresh_token_invalid")
    family = RefreshToken.objects.get(token_hash=secret_hash(second["refresh_token"])).family_id
    assert not RefreshToken.objects.filter(family_id=family, revoked_at__isnull=True).exists()
    # ...but another sign-in (another family) is untouched.
    assert _refresh(api_client, other_session["refresh_token"]).status_code == 200


def test_a_refresh_token_used_twice_at_once_gets_the_same_answer_and_keeps_the_session(api_client, customer):
    # Given a shopper's two tabs refreshing one token at the same moment
    first = _login(api_client, customer)

    # When both requests arrive within the grace window
    one = _refresh(api_client, first["refresh_token"])
    two = _refresh(api_client, first["refresh_token"])

    # Then both get the same new pair, and it works: nothing was taken as reuse
    assert one.status_code == two.status_code == 200
    assert one.json()["refresh_token"] == two.json()["refresh_token"]
    assert one.json()["access_token"] == two.json()["access_token"]
    assert _refresh(api_client, one.json()["refresh_token"]).status_code == 200
    assert not RefreshToken.objects.filter(revoke_reason=RefreshToken.RevokeReason.REUSE).exists()


def test_a_refresh_token_used_again_after_the_grace_window_is_reuse(api_client, customer):
    first = _login(api_client, customer)
    second = _refresh(api_client, first["refresh_token"]).json()
    RefreshToken.objects.filter(token_hash=secret_hash(first["refresh_token"])).update(
        revoked_at=timezone.now() - timedelta(seconds=settings.USERS_REFRESH_GRACE_SECONDS + 1)
    )

    assert_problem(_refresh(api_client, first["refresh_token"]), status=401, code="refresh_token_reused")
    assert_problem(_refresh(api_client, second["refresh_token"]), status=401, code="refresh_token_invalid")


def test_a_session_signed_out_since_gets_nothing_from_the_grace_window(api_client, customer):
    first = _login(api_client, customer)
    second = _refresh(api_client, first["refresh_token"]).json()
    assert api_client.post(REVOKE, {"refresh_token": second["refresh_token"]}, format="json").status_code == 204

    assert_problem(_refresh(api_client, first["refresh_token"]), status=401, code="refresh_token_invalid")


def test_a_concurrent_refresh_whose_answer_the_cache_lost_is_invalid_but_not_reuse(api_client, customer):
    first = _login(api_client, customer)
    second = _refresh(api_client, first["refresh_token"]).json()
    cache.clear()

    assert_problem(_refresh(api_client, first["refresh_token"]), status=401, code="refresh_token_invalid")
    assert _refresh(api_client, second["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", "x" * 64])
def test_an_unknown_refresh_token_is_401(api_client, token):
    assert_problem(_refresh(api_client, token), status=401, code="refresh_token_invalid")


def test_an_expired_refresh_token_is_401(api_client, customer):
    with override_settings(JWT_REFRESH_TOKEN_SECONDS=-1):
        tokens = _login(api_client, customer)

    assert_problem(_refresh(api_client, tokens["refresh_token"]), status=401, code="refresh_token_invalid")


def test_refresh_for_a_deactivated_customer_is_401(api_client, customer):
    tokens = _login(api_client, customer)
    customer.is_active = False
    customer.save()

    assert_problem(_refresh(api_client, tokens["refresh_token"]), status=401, code="refresh_token_invalid")


def test_logout_revokes_the_refresh_token(api_client, customer):
    tokens = _login(api_client, customer)

    response = api_client.post(REVOKE, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert response.status_code == 204
    stored = RefreshToken.objects.get(token_hash=secret_hash(tokens["refresh_token"]))
    assert stored.revoke_reason == "logout"
    assert_problem(_refresh(api_client, tokens["refresh_token"]), status=401, code="refresh_token_invalid")


def test_logout_is_idempotent_and_reveals_nothing_about_unknown_tokens(api_client, customer):
    tokens = _login(api_client, customer)
    api_client.post(REVOKE, {"refresh_token": tokens["refresh_token"]}, format="json")

    assert api_client.post(REVOKE, {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 204
    assert api_client.post(REVOKE, {"refresh_token": "unknown"}, format="json").status_code == 204


def test_logout_without_a_token_is_400(api_client):
    body = assert_problem(api_client.post(REVOKE, {}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"refresh_token"}


def test_the_access_token_from_login_opens_me(api_client, customer):
    tokens = _login(api_client, customer)

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    response = api_client.get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == customer.email
