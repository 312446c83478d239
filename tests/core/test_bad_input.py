"""Bad input and odd clients get a 4xx problem body, never a 500 or an HTML page: JSON bounded in
depth and size and finite, any Accept header, DEBUG on or off."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.assertions import assert_problem
from tests.core.tokens import access_token

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db(databases="__all__")]


@pytest.fixture
def signed_in(api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")
    return api_client


def _post(client, body: str | bytes, **extra):
    return client.post("/echo/", data=body, content_type="application/json", **extra)


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_json_is_a_400_problem(signed_in, depth):
    body = '{"quantity": 1, "address": ' + "[" * depth + "]" * depth + "}"

    problem = assert_problem(_post(signed_in, body), status=400, code="parse_error")

    assert "nested" in problem["detail"]


def test_json_nested_within_the_limit_is_parsed(signed_in):
    body = '{"quantity": 1, "address": {"city": "Oslo"}, "extra": ' + "[" * 30 + "]" * 30 + "}"

    response = _post(signed_in, body)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e5000", "-1e400"])
def test_json_numbers_that_are_not_finite_are_a_400_problem(signed_in, number):
    body = '{"quantity": ' + number + ', "address": {"city": "Oslo"}}'

    assert_problem(_post(signed_in, body), status=400, code="parse_error")


def test_an_integer_of_thousands_of_digits_is_a_400_problem(signed_in):
    assert_problem(_post(signed_in, '{"quantity": ' + "9" * 5000 + "}"), status=400, code="parse_error")


def test_a_body_that_is_not_utf8_is_a_400_problem(signed_in):
    assert_problem(_post(signed_in, b'{"quantity": "\xff"}'), status=400, code="parse_error")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_size_limit_is_a_413_problem(signed_in):
    body = '{"quantity": 1, "address": {"city": "' + "x" * 2000 + '"}}'

    assert_problem(_post(signed_in, body), status=413, code="request_too_large")


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/problem+json",
        "application/xml",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",  # a browser's
    ],
)
def test_errors_are_problem_bodies_whatever_the_client_accepts(signed_in, accept):
    response = _post(signed_in, '{"quantity": 0}', HTTP_ACCEPT=accept)

    body = assert_problem(response, status=400, code="invalid")
    assert set(body["errors"]) == {"quantity", "address"}


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/problem+json", "text/html", None])
def test_successes_are_json_whatever_the_client_accepts(signed_in, accept):
    response = signed_in.get("/echo/", **({"HTTP_ACCEPT": accept} if accept else {}))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_a_format_no_renderer_knows_is_answered_in_json(signed_in):
    response = signed_in.get("/echo/?format=api")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@override_settings(DEBUG=True)
def test_an_unknown_url_is_a_404_problem_with_debug_on(client):
    response = client.get("/no/such/page/", HTTP_ACCEPT="text/html")

    assert_problem(response, status=404, code="not_found")


@override_settings(DEBUG=True)
def test_a_crash_is_a_500_problem_with_debug_on(client):
    client.raise_request_exception = False

    body = assert_problem(client.get("/crash/", HTTP_ACCEPT="text/html"), status=500, code="server_error")

    assert "boom" not in str(body)


@override_settings(DEBUG=True)
def test_a_method_not_allowed_keeps_its_allow_header(signed_in):
    response = signed_in.delete("/echo/")

    assert_problem(response, status=405, code="method_not_allowed")
    assert "POST" in response["Allow"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/echo/%00/", {}),
        ("/echo/?q=a%00b", {}),
        ("/echo/?a%00=b", {}),
        ("/echo/", {"HTTP_X_CART_TOKEN": "a\x00b"}),
    ],
)
def test_a_nul_character_in_the_path_query_or_a_header_is_a_400_problem(signed_in, path, headers):
    response = signed_in.get(path, **headers)

    body = assert_problem(response, status=400, code="bad_request")
    assert "NUL" in body["detail"]
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("text", ["a\u0000b", "\u0000"])
def test_a_nul_character_in_a_json_string_is_a_400_problem(signed_in, text):
    body = '{"quantity": 1, "address": {"city": "' + text.replace("\x00", "\\u0000") + '"}}'

    assert_problem(_post(signed_in, body), status=400, code="parse_error")
