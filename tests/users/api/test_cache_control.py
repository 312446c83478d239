"""Answers carrying tokens or personal data are never stored by browsers or proxies
(`Cache-Control: private, no-store`, RFC 6749 5.1); only the key discovery documents, which are
public, may be cached."""

from __future__ import annotations

import pytest

from tests.users import factories

pytestmark = pytest.mark.django_db(databases="__all__")
NO_STORE = "private, no-store"


def test_token_answers_are_not_stored(api_client, customer):
    login = api_client.post("/api/v1/users/token/", {"email": customer.email, "password": factories.PASSWORD})
    refresh = api_client.post("/api/v1/users/token/refresh/", {"refresh_token": login.json()["refresh_token"]})
    refused = api_client.post("/api/v1/users/token/", {"email": customer.email, "password": "wrong-password"})

    assert login.status_code == 200 and refresh.status_code == 200
    assert login["Cache-Control"] == refresh["Cache-Control"] == refused["Cache-Control"] == NO_STORE


def test_a_registration_answer_is_not_stored(api_client):
    response = api_client.post(
        "/api/v1/users/register/", {"email": "new@example.com", "password": "a-long-pass-phrase-42"}
    )

    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == NO_STORE


@pytest.mark.parametrize("path", ["/api/v1/users/me/", "/api/v1/users/addresses/"])
def test_personal_data_is_not_stored(auth_client, path):
    response = auth_client.get(path)

    assert response.status_code == 200
    assert response["Cache-Control"] == NO_STORE


def test_the_public_key_documents_may_be_cached(api_client):
    response = api_client.get("/.well-known/jwks.json")

    assert response["Cache-Control"] == "public, max-age=300"
