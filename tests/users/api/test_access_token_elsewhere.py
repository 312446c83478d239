"""The users service's access token is accepted by another service's view, which verifies it
locally with apps.core's JWTAuthentication, and refused when expired, tampered, signed by another
key, or missing."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import override_settings
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from apps.core.api.authentication import JWTAuthentication
from apps.core.auth.keys import signing_key
from apps.users.tokens import access_token_issue
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")


class WhoAmI(APIView):
    """Stands in for any other service's view: no database access to users, only the token."""

    authentication_classes = [JWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"customer_id": str(request.user.id), "email": request.user.email})


urlpatterns = [path("elsewhere/whoami/", WhoAmI.as_view())]
URL = "/elsewhere/whoami/"


@pytest.fixture
def client():
    with override_settings(ROOT_URLCONF=__name__):
        yield APIClient()


def _claims(customer_id, **overrides):
    now = timezone.now()
    return {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(customer_id),
        "email": "a@example.com",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        **overrides,
    }


def _get(client, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get(URL, **headers)


def test_a_token_from_login_is_accepted(client, api_client, customer):
    with override_settings(ROOT_URLCONF="config.urls"):
        login = api_client.post(
            "/api/v1/users/token/", {"email": customer.email, "password": "correct-horse-battery-staple"}, format="json"
        )
    assert login.status_code == 200, login.content

    response = _get(client, login.json()["access_token"])

    assert response.status_code == 200
    assert response.json() == {"customer_id": str(customer.id), "email": customer.email}


def test_an_expired_token_is_401(client, customer):
    long_ago = timezone.now() - timedelta(seconds=settings.JWT_ACCESS_TOKEN_SECONDS + settings.JWT_LEEWAY_SECONDS + 60)
    token = access_token_issue(customer_id=customer.id, email=customer.email, now=long_ago).token

    body = assert_problem(_get(client, token), status=401, code="token_invalid")

    assert "expired" in body["detail"]


def test_a_tampered_token_is_401(client, customer):
    header, payload, signature = access_token_issue(customer_id=customer.id, email=customer.email).token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())  # impersonate someone else, keeping the signature
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    assert_problem(_get(client, f"{header}.{forged}.{signature}"), status=401, code="token_invalid")


@pytest.mark.parametrize("claim_kid", ["trusted", "own"])
def test_a_token_signed_by_another_key_is_401(client, customer, claim_kid):
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = signing_key()[0] if claim_kid == "trusted" else "attacker"
    token = jwt.encode(_claims(customer.id), attacker_key, algorithm="RS256", headers={"kid": kid})

    assert_problem(_get(client, token), status=401, code="token_invalid")


def test_a_token_for_another_audience_is_401(client, customer):
    kid, key = signing_key()
    token = jwt.encode(_claims(customer.id, aud="someone-else"), key, algorithm="RS256", headers={"kid": kid})

    assert_problem(_get(client, token), status=401, code="token_invalid")


def test_an_hs256_token_is_401(client, customer):
    # Algorithm confusion: a symmetric token naming the trusted kid; only RS256 is accepted.
    kid, _ = signing_key()
    token = jwt.encode(
        _claims(customer.id), "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256", headers={"kid": kid}
    )

    assert_problem(_get(client, token), status=401, code="token_invalid")


def test_no_token_is_401(client):
    response = _get(client)

    assert_problem(response, status=401, code="not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_empty_bearer_is_401(client):
    assert_problem(client.get(URL, HTTP_AUTHORIZATION="Bearer "), status=401, code="token_missing")


def test_garbage_is_401(client):
    assert_problem(_get(client, "garbage"), status=401, code="token_invalid")
