"""Every error is a JSON problem body; tokens from users are verified locally."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from tests.assertions import assert_problem
from tests.core.tokens import access_token

# Authentication reads the service's own token revocation table (cached), never users.
pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db(databases="__all__")]


def _assert_problem(response, status: int, code: str) -> dict:
    """The shared problem assertion, plus the members this module pins for every error."""
    body = assert_problem(response, status=status, code=code)
    assert body["type"].endswith(code.replace("_", "-")) and body["title"] and body["detail"]
    return body


def test_a_valid_token_is_accepted_without_calling_users(api_client):
    customer = uuid.uuid4()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(subject=customer)}")
    response = api_client.get("/echo/")
    assert response.status_code == 200
    assert response.json() == {"customer": str(customer)}


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda: None, id="missing"),
        pytest.param(lambda: f"Bearer {access_token(expires_in=-60)}", id="expired"),
        pytest.param(lambda: f"Bearer {access_token()[:-4]}AAAA", id="tampered"),
        pytest.param(
            lambda: f"Bearer {access_token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))}",
            id="other-key",
        ),
        pytest.param(lambda: f"Bearer {access_token(typ='refresh')}", id="not-an-access-token"),
        pytest.param(lambda: f"Bearer {access_token(aud='someone-else')}", id="wrong-audience"),
        pytest.param(lambda: "Bearer not.a.jwt", id="garbage"),
    ],
)
def test_a_bad_token_is_refused_with_a_problem_body(api_client, make_header):
    header = make_header()
    if header:
        api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/echo/")
    body = _assert_problem(response, 401, "not_authenticated" if header is None else "token_invalid")
    assert "Bearer" in response["WWW-Authenticate"]
    assert body


def test_validation_errors_name_each_field(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")
    body = _assert_problem(api_client.post("/echo/", {"quantity": 0}, format="json"), 400, "invalid")
    assert set(body["errors"]) == {"quantity", "address"}


def test_malformed_json_is_a_400_problem(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")
    response = api_client.post("/echo/", data='{"quantity": 1,', content_type="application/json")
    _assert_problem(response, 400, "parse_error")


def test_application_errors_keep_their_status_and_code(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")
    response = api_client.post("/echo/", {"quantity": 13, "address": {"city": "Oslo"}}, format="json")
    _assert_problem(response, 409, "unlucky")


def test_an_unknown_url_is_a_404_problem(client):
    _assert_problem(client.get("/no/such/page/"), 404, "not_found")


@override_settings(DEBUG=False)
def test_a_crash_is_a_500_problem_without_internals(client):
    client.raise_request_exception = False
    body = _assert_problem(client.get("/crash/"), 500, "server_error")
    assert "boom" not in str(body)
