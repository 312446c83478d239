"""product.updated is published (per variant, through the outbox) when a variant's name, price,
currency or active state changes, and not otherwise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.catalog import selectors
from apps.catalog.models import Product, Variant
from apps.catalog.services import products
from apps.core.db import atomic
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def test_deactivating_products_publishes_each_variant_once():
    product = factories.product(name="Tee")
    factories.variant(product=product, sku="TEE-M", price="19.90", name="M")
    factories.variant(product=product, sku="TEE-L", price="21.90", name="L")

    assert products.products_set_active(product_ids=[product.pk], active=False) == [product.pk]
    assert products.products_set_active(product_ids=[product.pk], active=False) == []

    assert Product.objects.get().active is False
    assert events("product.updated") == [
        {
            "sku": "TEE-L",
            "product_id": str(product.pk),
            "product_name": "Tee",
            "variant_name": "L",
            "price": "21.90",
            "currency": "EUR",
            "active": False,
        },
        {
            "sku": "TEE-M",
            "product_id": str(product.pk),
            "product_name": "Tee",
            "variant_name": "M",
            "price": "19.90",
            "currency": "EUR",
            "active": False,
        },
    ]


def test_only_changed_variants_are_published():
    product = factories.product()
    factories.variant(product=product, sku="A", price="10.00")
    factories.variant(product=product, sku="B", price="10.00")

    with atomic("catalog"):
        before = selectors.variant_snapshots(product_ids=[product.pk])
        Variant.objects.filter(sku="A").update(price=Decimal("12.00"))
        Variant.objects.filter(sku="B").update(weight_grams=300)  # not part of the sellable state
        published = products.product_updates_publish(before=before, product_ids=[product.pk])

    assert published == 1
    assert [(event["sku"], event["price"]) for event in events("product.updated")] == [("A", "12.00")]
