"""The shopper's product list: filters, search, ordering, cursor paging, bad input as 400
problems, caching headers, and a query count that does not grow with the page size."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog.services import stock
from tests.catalog import factories
from tests.catalog.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")
URL = "/api/v1/catalog/products/"


def _slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["slug"] for item in response.json()["results"]]


def test_lists_active_products_with_their_cheapest_price_and_stock(api_client):
    shirt = factories.product(name="Shirt", slug="shirt")
    factories.variant(product=shirt, price="25.00", on_hand=0, compare_at_price=Decimal("30.00"))
    factories.variant(product=shirt, price="19.90", on_hand=3)
    factories.image(product=shirt, name="products/shirt-back.jpg", position=2)
    factories.image(product=shirt, name="products/shirt-front.jpg", position=1)
    hidden = factories.product(slug="hidden", active=False)
    factories.variant(product=hidden)
    factories.product(slug="no-variants")

    response = api_client.get(URL)

    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["slug"] == "shirt"
    assert item["price"] == "19.90"
    assert item["currency"] == "EUR"
    assert item["in_stock"] is True
    assert item["image_url"].endswith("products/shirt-front.jpg")


def test_filters_by_category_including_descendants(api_client):
    clothing = factories.category(slug="clothing")
    shirts = factories.category(slug="shirts", parent=clothing)
    home = factories.category(slug="home")
    factories.product_with_variants(slug="tee", category=shirts)
    factories.product_with_variants(slug="coat", category=clothing)
    factories.product_with_variants(slug="mug", category=home)

    assert sorted(_slugs(api_client.get(URL, {"category": "clothing"}))) == ["coat", "tee"]
    assert _slugs(api_client.get(URL, {"category": "shirts"})) == ["tee"]


def test_filters_by_price_stock_brand_and_option(api_client):
    red = factories.product(slug="red-tee", brand="Northwind")
    factories.variant(product=red, price="15.00", option_values={"colour": "red", "size": "M"})
    blue = factories.product(slug="blue-tee", brand="Fjell")
    factories.variant(product=blue, price="40.00", option_values={"colour": "blue", "size": "M"}, on_hand=0)

    assert _slugs(api_client.get(URL, {"min_price": "20"})) == ["blue-tee"]
    assert _slugs(api_client.get(URL, {"max_price": "20.00"})) == ["red-tee"]
    assert _slugs(api_client.get(URL, {"in_stock": "true"})) == ["red-tee"]
    assert _slugs(api_client.get(URL, {"in_stock": "false"})) == ["blue-tee"]
    assert _slugs(api_client.get(URL, {"brand": "fjell"})) == ["blue-tee"]
    assert _slugs(api_client.get(URL, {"option": "colour:RED"})) == ["red-tee"]
    assert sorted(_slugs(api_client.get(URL, {"option": ["size:M"]}))) == ["blue-tee", "red-tee"]
    # Every variant-level filter must hold for one variant.
    assert _slugs(api_client.get(URL, {"option": ["colour:red", "size:M"], "min_price": "20"})) == []


def test_search_matches_name_brand_and_description_and_orders_by_relevance(api_client):
    factories.product_with_variants(slug="lamp", name="Desk lamp", description="Warm light.")
    factories.product_with_variants(slug="bulb", name="Bulb", description="Fits any lamp.")
    factories.product_with_variants(slug="mug", name="Mug", description="Stoneware.")

    slugs = _slugs(api_client.get(URL, {"q": "lamp"}))

    assert slugs == ["lamp", "bulb"]  # a name match outranks a description match


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["b-cheap", "c-mid", "a-dear"]),
        ("-price", ["a-dear", "c-mid", "b-cheap"]),
        ("name", ["a-dear", "b-cheap", "c-mid"]),
        ("newest", ["c-mid", "b-cheap", "a-dear"]),
    ],
)
def test_orders(api_client, ordering, expected):
    for slug, price in (("a-dear", "90.00"), ("b-cheap", "5.00"), ("c-mid", "20.00")):
        factories.variant(product=factories.product(slug=slug, name=slug), price=price)

    assert _slugs(api_client.get(URL, {"ordering": ordering})) == expected


def test_cursor_pages_through_everything_once(api_client):
    for index in range(7):
        factories.variant(product=factories.product(slug=f"p-{index}"), price="10.00")  # equal prices: ties

    seen, url, params = [], URL, {"ordering": "price", "page_size": 3}
    while url:
        response = api_client.get(url, params)
        seen += _slugs(response)
        url, params = response.json()["next"], None

    assert sorted(seen) == [f"p-{index}" for index in range(7)]
    assert len(seen) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "nope"}, "category"),
        ({"brand": "Nobody"}, "brand"),
        ({"min_price": "cheap"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "10", "max_price": "5"}, "max_price"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"option": "colour"}, "option"),
        ({"option": "Colour:red"}, "option"),
        ({"ordering": "popularity"}, "ordering"),
        ({"ordering": "relevance"}, "ordering"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_unknown_filter_values_and_orderings_are_400_problems(api_client, params, field):
    factories.product_with_variants()

    body = assert_problem(api_client.get(URL, params), status=400, code="invalid")

    assert field in body["errors"]


@pytest.mark.parametrize("cursor", ["garbage!", "bm90LWEtY3Vyc29y", "cD1ub3QtYS1wcmljZQ=="])
def test_a_malformed_cursor_is_a_400_problem(api_client, cursor):
    factories.product_with_variants()

    assert_problem(api_client.get(URL, {"cursor": cursor, "ordering": "price"}), status=400, code="invalid_cursor")


@pytest.mark.parametrize("page_size", ["0", "101", "ten"])
def test_a_bad_page_size_is_a_400_problem(api_client, page_size):
    assert_problem(api_client.get(URL, {"page_size": page_size}), status=400, code="invalid_page_size")


def test_sends_etag_and_cache_control_and_answers_304(api_client):
    factories.product_with_variants(slug="tee")

    first = api_client.get(URL)
    again = api_client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])
    other = api_client.get(URL, HTTP_IF_NONE_MATCH='"something-else"')

    assert first.status_code == 200
    assert first["Cache-Control"] == "public, max-age=60"
    assert first["ETag"].startswith('"')
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert other.status_code == 200


def test_the_etag_changes_when_the_list_changes(api_client):
    product = factories.product(slug="tee")
    factories.variant(product=product, sku="TEE-1", on_hand=2)
    before = api_client.get(URL)["ETag"]

    stock.stock_adjust(sku="TEE-1", delta=-2, reason="sold out", actor="alice")

    assert api_client.get(URL).json()["results"][0]["in_stock"] is False

    assert api_client.get(URL, HTTP_IF_NONE_MATCH=before).status_code == 200


@pytest.mark.parametrize("params", [{}, {"q": "thing", "category": "root", "in_stock": "true", "option": "colour:red"}])
def test_query_count_does_not_grow_with_page_size(api_client, params):
    root = factories.category(slug="root")
    for index in range(120):
        product = factories.product(slug=f"p-{index}", name=f"Thing {index}", category=root)
        factories.variant(product=product, option_values={"colour": "red"})
        factories.variant(product=product, option_values={"colour": "blue"})
        factories.image(product=product, name=f"products/{index}.jpg")

    counts = {}
    for page_size in (10, 100):
        with CaptureQueriesContext(connections["catalog"]) as catalog_queries:
            response = api_client.get(URL, {**params, "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        counts[page_size] = len(catalog_queries)

    assert counts[10] == counts[100]
    assert counts[10] <= 2  # the page, plus the category tree when a category filter is given


def test_with_the_response_cache_a_repeat_is_served_without_a_query(api_client, response_cache):
    factories.product_with_variants(slug="tee")
    first = api_client.get(URL)

    with CaptureQueriesContext(connections["catalog"]) as queries:
        again = api_client.get(URL)
        not_modified = api_client.get(URL, HTTP_IF_NONE_MATCH=first["ETag"])

    assert len(queries) == 0
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "public, max-age=60"
    assert again["Vary"] == "Accept, origin"  # origin: CORS headers differ by the caller's Origin
    assert not_modified.status_code == 304


def test_the_response_cache_keeps_answers_apart_by_host_and_query(api_client, response_cache, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com", "internal.example.com"]
    for index in range(3):
        factories.product_with_variants(slug=f"tee-{index}", name=f"Tee {index}")

    public = api_client.get(URL, {"page_size": 1}, HTTP_HOST="shop.example.com")
    internal = api_client.get(URL, {"page_size": 1}, HTTP_HOST="internal.example.com")
    two = api_client.get(URL, {"page_size": 2}, HTTP_HOST="shop.example.com")

    # The next links are absolute: each host gets its own.
    assert public.json()["next"].startswith("http://shop.example.com/")
    assert internal.json()["next"].startswith("http://internal.example.com/")
    assert _slugs(two) == ["tee-0", "tee-1"]
    assert len(response_cache) == 3


def test_the_response_cache_keeps_no_error(api_client, response_cache):
    first = api_client.get(URL, {"ordering": "nonsense"})
    second = api_client.get(URL, {"ordering": "nonsense"})

    assert_problem(first, status=400, code="invalid")
    assert_problem(second, status=400, code="invalid")
    assert len(response_cache) == 0


def test_an_expired_answer_is_rendered_afresh(api_client, response_cache, settings):
    factories.product_with_variants(slug="tee", name="Tee")
    assert _slugs(api_client.get(URL)) == ["tee"]
    factories.product_with_variants(slug="cap", name="Cap")
    assert _slugs(api_client.get(URL)) == ["tee"]  # within the 5 s: the kept answer

    settings.CATALOG_RESPONSE_CACHE_SECONDS = 0.001  # what is kept is now more than twice as old
    assert _slugs(api_client.get(URL)) == ["cap", "tee"]
