"""Test data for the catalog service: plain functions, each making one valid object."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from apps.catalog.models import Category, Product, ProductImage, Stock, Variant
from apps.catalog.services import products

_sequence = itertools.count(1)


def category(*, parent: Category | None = None, **fields: Any) -> Category:
    number = next(_sequence)
    values = {"name": f"Category {number}", "slug": f"category-{number}", "parent": parent, **fields}
    return Category.objects.create(**values)


def product(*, category: Category | None = None, **fields: Any) -> Product:
    number = next(_sequence)
    values = {
        "name": f"Product {number}",
        "slug": f"product-{number}",
        "description": "A fine thing.",
        "brand": "Acme",
        "category": category,
        "active": True,
        **fields,
    }
    return Product.objects.create(**values)


def variant(
    *,
    product: Product | None = None,
    on_hand: int = 10,
    reserved: int = 0,
    price: str | Decimal = "10.00",
    **fields: Any,
) -> Variant:
    number = next(_sequence)
    values = {
        "product": product or globals()["product"](),
        "sku": f"SKU-{number:05d}",
        "name": f"Variant {number}",
        "price": Decimal(str(price)),
        "currency": "EUR",
        **fields,
    }
    instance = Variant.objects.create(**values)
    Stock.objects.create(variant=instance, on_hand=on_hand, reserved=reserved)
    products.product_listing_refresh(product_ids=[instance.product_id])
    return instance


def product_with_variants(*, count: int = 2, category: Category | None = None, **fields: Any) -> Product:
    instance = product(category=category, **fields)
    for index in range(count):
        variant(product=instance, price=Decimal("10.00") + index)
    return instance


def image(*, product: Product, name: str = "products/2026/01/shirt.jpg", position: int = 0) -> ProductImage:
    instance = ProductImage.objects.create(product=product, image=name, alt_text="A shirt", position=position)
    products.product_listing_refresh(product_ids=[product.pk])
    return instance


def admin_product_form(**overrides: Any) -> dict:
    """The admin's product add/change form with one new variant and no images."""
    data = {
        "name": "Linen Shirt",
        "slug": "linen-shirt",
        "category": "",
        "brand": "Northwind",
        "description": "Cool in summer.",
        "attributes": "{}",
        "tax_class": "standard",
        "active": "on",
        "variants-TOTAL_FORMS": "1",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-sku": "LINEN-M",
        "variants-0-name": "M",
        "variants-0-price": "49.00",
        "variants-0-currency": "EUR",
        "variants-0-compare_at_price": "",
        "variants-0-option_values": '{"size": "M"}',
        "variants-0-weight_grams": "250",
        "variants-0-active": "on",
        "variants-0-position": "0",
        "images-TOTAL_FORMS": "0",
        "images-INITIAL_FORMS": "0",
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data
