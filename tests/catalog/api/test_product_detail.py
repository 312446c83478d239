"""Product detail by slug, and the category tree."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from tests.catalog import factories
from tests.catalog.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")


def test_detail_shows_variants_with_availability_and_image_urls(api_client, django_assert_num_queries):
    category = factories.category(slug="shirts")
    product = factories.product(slug="tee", category=category, attributes={"material": "cotton"})
    factories.variant(product=product, sku="TEE-M", price="19.90", on_hand=5, reserved=2, option_values={"size": "M"})
    factories.variant(product=product, sku="TEE-L", price="21.90", on_hand=0)
    factories.variant(product=product, sku="TEE-OLD", active=False)
    factories.image(product=product, name="products/tee.jpg")

    with django_assert_num_queries(3, using="catalog"):
        response = api_client.get("/api/v1/catalog/products/tee/")

    assert response.status_code == 200
    body = response.json()
    assert body["category"] == "shirts"
    assert body["in_stock"] is True
    assert [(v["sku"], v["price"], v["available"], v["in_stock"]) for v in body["variants"]] == [
        ("TEE-L", "21.90", 0, False),
        ("TEE-M", "19.90", 3, True),
    ]
    assert body["variants"][1]["option_values"] == {"size": "M"}
    assert body["images"][0]["url"].endswith("/products/tee.jpg")
    assert response["Cache-Control"] == "public, max-age=60"
    assert api_client.get("/api/v1/catalog/products/tee/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_an_unknown_or_inactive_product_is_a_404_problem(api_client):
    factories.product_with_variants(slug="gone", active=False)

    assert_problem(api_client.get("/api/v1/catalog/products/gone/"), status=404, code="product_not_found")
    assert_problem(api_client.get("/api/v1/catalog/products/never/"), status=404, code="product_not_found")


def test_with_the_response_cache_detail_and_tree_repeat_without_a_query(api_client, response_cache):
    factories.product_with_variants(slug="tee", category=factories.category(slug="shirts"))
    detail = api_client.get("/api/v1/catalog/products/tee/")
    tree = api_client.get("/api/v1/catalog/categories/")

    with CaptureQueriesContext(connections["catalog"]) as queries:
        detail_again = api_client.get("/api/v1/catalog/products/tee/")
        tree_again = api_client.get("/api/v1/catalog/categories/")

    assert len(queries) == 0
    assert (detail_again.content, detail_again["ETag"]) == (detail.content, detail["ETag"])
    assert (tree_again.content, tree_again["ETag"]) == (tree.content, tree["ETag"])


def test_with_the_response_cache_a_404_is_not_kept(api_client, response_cache):
    assert_problem(api_client.get("/api/v1/catalog/products/later/"), status=404, code="product_not_found")
    factories.product_with_variants(slug="later")

    assert api_client.get("/api/v1/catalog/products/later/").status_code == 200
    assert len(response_cache) == 1


def test_category_tree_nests_children_in_position_order(api_client):
    clothing = factories.category(name="Clothing", slug="clothing", position=1)
    factories.category(name="Home", slug="home", position=0)
    factories.category(name="Shirts", slug="shirts", parent=clothing, position=2)
    factories.category(name="Coats", slug="coats", parent=clothing, position=1)

    response = api_client.get("/api/v1/catalog/categories/")

    assert response.status_code == 200
    tree = response.json()
    assert [node["slug"] for node in tree] == ["home", "clothing"]
    assert [node["slug"] for node in tree[1]["children"]] == ["coats", "shirts"]
    assert "ETag" in response
