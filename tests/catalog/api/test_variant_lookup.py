"""The live price lookup orders makes for every cart line and checkout: its answer, field by field,
read in one query, and its input rules (the serializer's) kept where the lean path skips it."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog import selectors
from apps.catalog.api import serializers as s
from apps.catalog.models import Category, Stock
from apps.catalog.selectors import variants
from apps.core.services import db_alias
from tests.catalog import factories
from tests.catalog.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/api/v1/catalog/variants/"


@pytest.fixture
def catalog():
    """Variants that exercise every field: a category three deep, a category loop made by hand,
    no category, no stock row, every unit reserved, an inactive product, no
    weight, a price with one decimal."""
    clothing = factories.category(slug="clothing")
    tops = factories.category(slug="tops", parent=clothing)
    tees = factories.category(slug="tees", parent=tops)
    loop_a = factories.category(slug="loop-a")
    loop_b = factories.category(slug="loop-b", parent=loop_a)
    Category.objects.filter(pk=loop_a.pk).update(parent=loop_b)  # a -> b -> a: only by hand
    tee = factories.product(name="Tee \u00e9t\u00e9", category=tees, tax_class="reduced")
    factories.variant(product=tee, sku="A-TEE", name="M", price="19.9", on_hand=5, reserved=2, weight_grams=180)
    factories.variant(product=tee, sku="B-OFF", name="Off", price="0", active=False)
    looped = factories.product(category=loop_b)
    factories.variant(product=looped, sku="C-LOOP", on_hand=1)
    bare = factories.product(category=None, active=False)
    stockless = factories.variant(product=bare, sku="D-NOSTOCK", price="1234567890.12")
    Stock.objects.filter(variant=stockless).delete()
    factories.variant(sku="E-GONE", on_hand=1, reserved=1)
    return tee


def _old_answer(skus: list[str]) -> dict:
    """The answer as the view rendered it before (the ORM rows through the output serializer)."""
    variants = selectors.variants_by_sku(skus=skus)
    ancestry = selectors.category_ancestry() if variants else {}
    results = [
        {
            "sku": variant.sku,
            "product_id": variant.product_id,
            "product_name": variant.product.name,
            "variant_name": variant.name,
            "price": variant.price,
            "currency": variant.currency,
            "available": max(getattr(getattr(variant, "stock", None), "available", 0), 0),
            "active": variant.active and variant.product.active,
            "weight_grams": variant.weight_grams or 0,
            "tax_class": variant.product.tax_class,
            "category_slugs": ancestry.get(variant.product.category_id, []),
        }
        for variant in variants
    ]
    return s.VariantLookupOutputSerializer({"results": results}).data


SKUS = ["A-TEE", "B-OFF", "C-LOOP", "D-NOSTOCK", "E-GONE", "GHOST"]


def test_the_answer_is_the_one_the_output_serializer_gave_read_in_one_query(api_client, catalog):
    with CaptureQueriesContext(connections[db_alias("catalog")]) as queries:
        response = api_client.get(URL, {"sku": SKUS})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert len(queries) == 1  # two before: the variants, then the whole category tree
    assert response.json() == _old_answer(sorted(SKUS))
    tee, off, loop, stockless, gone = response.json()["results"]
    assert (tee["price"], tee["available"], tee["category_slugs"]) == ("19.90", 3, ["tees", "tops", "clothing"])
    assert (off["active"], off["weight_grams"]) == (False, 0)
    assert loop["category_slugs"] == ["loop-b", "loop-a"]
    assert (stockless["available"], stockless["category_slugs"], stockless["price"]) == (0, [], "1234567890.12")
    assert gone["available"] == 0


def test_the_orm_reading_for_other_databases_gives_the_same_rows(catalog):
    assert variants._variant_lookup_orm(sorted(SKUS)) == selectors.variant_lookup(skus=sorted(SKUS))


def test_skus_are_answered_once_each_in_order_and_trimmed_as_the_serializer_trims_them(api_client, catalog, settings):
    settings.CATALOG_MAX_VARIANT_LOOKUP = 2

    answer = api_client.get(URL, {"sku": ["C-LOOP", "A-TEE", "C-LOOP", " A-TEE "]}).json()

    assert [item["sku"] for item in answer["results"]] == ["A-TEE", "C-LOOP"]


@pytest.mark.parametrize(
    ("skus", "field_errors"),
    [
        ([], ["This list may not be empty."]),
        (["A", "B", "C"], ["Ask for at most 2 SKUs per call."]),
        (["A", " "], {"1": ["This field may not be blank."]}),
        (["x" * 65], {"0": ["Ensure this field has no more than 64 characters."]}),
    ],
)
def test_refused_lookups_are_the_serializer_s_400s(api_client, settings, skus, field_errors):
    settings.CATALOG_MAX_VARIANT_LOOKUP = 2

    body = assert_problem(api_client.get(URL, {"sku": skus}), status=400, code="invalid")

    assert body["errors"] == {"sku": field_errors}
