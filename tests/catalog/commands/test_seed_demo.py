"""manage.py seed_demo: a deterministic demo catalog; --if-empty leaves existing data alone."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.catalog.models import Category, Product, Stock, Variant

pytestmark = pytest.mark.django_db(databases="__all__")


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_seeds_a_tree_products_variants_and_stock():
    _seed("--products", "60", "--variants-per-product", "3")

    assert Category.objects.count() >= 20
    assert Category.objects.filter(parent__isnull=False).exists()
    assert Product.objects.count() == 60
    assert Variant.objects.count() == 180
    assert Stock.objects.count() == 180
    assert Variant.objects.filter(price__lt=0).count() == 0


def test_is_deterministic():
    _seed("--products", "20")
    first = list(Variant.objects.order_by("sku").values_list("sku", "price", "option_values"))
    Stock.objects.all().delete()
    Variant.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.filter(parent__isnull=False).delete()
    Category.objects.all().delete()

    _seed("--products", "20")

    assert list(Variant.objects.order_by("sku").values_list("sku", "price", "option_values")) == first


def test_if_empty_skips_a_catalog_with_data_and_without_it_refuses():
    _seed("--products", "5")

    assert "nothing seeded" in _seed("--if-empty", "--products", "5")
    assert Product.objects.count() == 5
    with pytest.raises(CommandError):
        _seed("--products", "5")


def test_seeded_products_are_listed_and_searchable(api_client):
    _seed("--products", "30")

    listed = api_client.get("/api/v1/catalog/products/", {"page_size": 5})
    searched = api_client.get("/api/v1/catalog/products/", {"q": "northwind"})

    assert len(listed.json()["results"]) == 5
    assert searched.status_code == 200
    assert searched.json()["results"]
    assert all(item["brand"] == "Northwind" for item in searched.json()["results"])
