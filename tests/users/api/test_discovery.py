"""The key discovery documents at the site root, read by API Gateway's JWT authorizer and by any
service that verifies tokens from a JWKS URL."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from jwt import PyJWKSet

from apps.core.auth.keys import signing_key
from apps.users.tokens import access_token_issue

pytestmark = pytest.mark.django_db(databases="__all__")


def test_jwks_publishes_the_public_signing_key(api_client, customer):
    response = api_client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age" in response["Cache-Control"]
    [jwk] = response.json()["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"]) == (signing_key()[0], "RS256", "sig", "RSA")
    assert "d" not in jwk  # never the private part
    # The published key verifies a token the service issued.
    token = access_token_issue(customer_id=customer.id, email=customer.email).token
    key = PyJWKSet.from_dict(response.json())[jwk["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=settings.JWT_AUDIENCE)
    assert claims["sub"] == str(customer.id)


def test_openid_configuration_points_at_the_jwks(api_client):
    response = api_client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == settings.JWT_ISSUER
    assert body["jwks_uri"] == settings.JWT_ISSUER.rstrip("/") + "/.well-known/jwks.json"
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]


def test_discovery_needs_no_token_and_ignores_a_bad_one(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    assert api_client.get("/.well-known/jwks.json").status_code == 200
    assert api_client.get("/.well-known/openid-configuration").status_code == 200


def test_the_users_openapi_schema_renders(api_client):
    response = api_client.get("/api/v1/users/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/users/token/refresh/" in paths
    assert "/api/v1/users/addresses/{address_id}/" in paths
