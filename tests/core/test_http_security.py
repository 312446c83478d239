"""HTTP protections every service shares: HTTPS redirect and HSTS behind the load balancer (health
checks exempt), CORS for an allow-listed storefront only, no caching of API answers unless a view
says so, and the API docs served from the project's own static files."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from tests.core.tokens import access_token

HTTPS_ON = {
    "SECURE_SSL_REDIRECT": True,
    # As production has it (tests/deploy/test_production_settings.py checks they agree).
    "SECURE_REDIRECT_EXEMPT": [r"^health/", r"^api/v1/catalog/variants/$"],
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}
STOREFRONT = "https://shop.example.com"


@override_settings(**HTTPS_ON)
def test_plain_http_is_redirected_to_https(client):
    response = client.get("/api/v1/catalog/products/")

    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@override_settings(**HTTPS_ON)
@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_load_balancer_health_checks_over_plain_http_are_answered(client, path):
    response = client.get(path, HTTP_HOST="10.0.3.17")

    assert response.status_code == 200


@override_settings(**HTTPS_ON)
@pytest.mark.django_db(databases="__all__")
def test_orders_price_lookup_inside_the_vpc_over_plain_http_is_answered(client):
    # Orders calls catalog by its Service Connect name over plain HTTP (no load balancer, so no
    # X-Forwarded-Proto): a redirect to https:// would fail every checkout.
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "catalog"]):
        response = client.get("/api/v1/catalog/variants/", {"sku": "NO-SUCH-SKU"}, HTTP_HOST="catalog:8000")
        # Everything else of catalog's over plain HTTP is still redirected.
        other = client.get("/api/v1/catalog/variants/extra", HTTP_HOST="catalog:8000")

    assert response.status_code == 200
    assert other.status_code == 301


@override_settings(**HTTPS_ON)
@pytest.mark.django_db(databases="__all__")
def test_https_answers_carry_hsts(client):
    response = client.get("/api/v1/catalog/categories/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.urls("tests.core.urls")
@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("signed_in", [True, False])
def test_api_answers_are_not_cached_by_default(api_client, signed_in):
    if signed_in:
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token()}")

    response = api_client.get("/echo/")

    assert response["Cache-Control"] == "private, no-store"


@override_settings(CORS_ALLOWED_ORIGINS=[STOREFRONT])
@pytest.mark.django_db(databases="__all__")
def test_an_allowed_storefront_may_call_the_api_from_its_origin(client):
    preflight = client.options(
        "/api/v1/orders/cart/lines/",
        HTTP_ORIGIN=STOREFRONT,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-cart-token",
    )
    answer = client.get("/api/v1/catalog/categories/", HTTP_ORIGIN=STOREFRONT)

    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == STOREFRONT
    assert {"authorization", "content-type", "x-cart-token"} <= set(
        preflight["Access-Control-Allow-Headers"].split(", ")
    )
    assert answer["Access-Control-Allow-Origin"] == STOREFRONT
    assert "Access-Control-Allow-Credentials" not in answer


@override_settings(CORS_ALLOWED_ORIGINS=[STOREFRONT])
@pytest.mark.django_db(databases="__all__")
def test_an_error_answer_to_an_allowed_storefront_is_readable_by_it(client):
    response = client.get("/api/v1/catalog/products/no-such-product/", HTTP_ORIGIN=STOREFRONT)

    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == STOREFRONT


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("origin", [STOREFRONT, "https://evil.example"])
def test_other_origins_get_no_cors_headers(client, origin):
    with override_settings(CORS_ALLOWED_ORIGINS=[] if origin == STOREFRONT else [STOREFRONT]):
        response = client.get("/api/v1/catalog/categories/", HTTP_ORIGIN=origin)

    assert "Access-Control-Allow-Origin" not in response


def test_the_api_docs_load_swagger_ui_from_our_own_static_files(client):
    page = client.get("/api/v1/catalog/docs/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "cdn" not in html and "@latest" not in html and "//unpkg" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
