"""The variants' reads: by SKU, the lookup other services price carts with, and the snapshots that
tell what a product edit changed."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.db import connections

from apps.catalog.models import Category, Product, Stock, Variant
from apps.catalog.selectors.categories import category_ancestry
from apps.core.services import db_alias


def variants_by_sku(*, skus: list[str]) -> list[Variant]:
    """The variants with these SKUs (unknown ones are simply absent), with product and stock."""
    return list(
        Variant.objects.filter(sku__in=skus)
        .select_related("product", "stock")
        .defer("product__search_vector")
        .order_by("sku")
    )


# The variant lookup's fields, in the order of its answer (api.serializers.VariantSnapshotOutputSerializer).
VARIANT_LOOKUP_FIELDS = (
    "sku",
    "product_id",
    "product_name",
    "variant_name",
    "price",
    "currency",
    "available",
    "active",
    "weight_grams",
    "tax_class",
    "category_slugs",
)


def variant_lookup(*, skus: list[str]) -> list[dict[str, Any]]:
    """The variant lookup's answer for these SKUs (unknown ones absent), in SKU order: a dict of
    VARIANT_LOOKUP_FIELDS per variant, its values as the API shows them (money and ids as text;
    available never below 0; the product's category slug, then its ancestors').

    Orders asks this for every cart line added and at every checkout, so on PostgreSQL it is one
    statement, written once (_VARIANT_LOOKUP_SQL), whose columns are the answer's values: no
    queryset to build, no model instances, no category tree read apart (the recursive subquery
    walks up from each product's category, stopping at a category seen before, as
    category_ancestry does). Other databases (SQLite all-in-one) read it through the ORM; tests
    check the two agree."""
    if not skus:
        return []
    connection = connections[db_alias("catalog")]
    if connection.vendor != "postgresql":
        return _variant_lookup_orm(skus)
    with connection.cursor() as cursor:
        cursor.execute(_variant_lookup_sql(), [list(skus)])
        return [dict(zip(VARIANT_LOOKUP_FIELDS, row, strict=True)) for row in cursor.fetchall()]


@functools.cache
def _variant_lookup_sql() -> str:
    # Only the models' own table names are put in the text; the SKUs are one array parameter.
    return f"""
        SELECT v.sku, v.product_id::text, p.name, v.name, v.price::text, v.currency,
               GREATEST(COALESCE(s.on_hand - s.reserved, 0), 0), v.active AND p.active,
               COALESCE(v.weight_grams, 0), p.tax_class,
               ARRAY(
                   WITH RECURSIVE up(id, slug, parent_id, depth, seen) AS (
                       SELECT c.id, c.slug, c.parent_id, 0, ARRAY[c.id]
                       FROM {Category._meta.db_table} AS c WHERE c.id = p.category_id
                       UNION ALL
                       SELECT c.id, c.slug, c.parent_id, up.depth + 1, up.seen || c.id
                       FROM {Category._meta.db_table} AS c JOIN up ON c.id = up.parent_id
                       WHERE c.id <> ALL(up.seen)
                   )
                   SELECT slug FROM up ORDER BY depth
               )
        FROM {Variant._meta.db_table} AS v
        JOIN {Product._meta.db_table} AS p ON p.id = v.product_id
        LEFT JOIN {Stock._meta.db_table} AS s ON s.variant_id = v.id
        WHERE v.sku = ANY(%s::text[])
        ORDER BY v.sku
    """  # noqa: S608


def _variant_lookup_orm(skus: list[str]) -> list[dict[str, Any]]:
    ancestry = category_ancestry()
    return [
        {
            "sku": variant.sku,
            "product_id": str(variant.product_id),
            "product_name": variant.product.name,
            "variant_name": variant.name,
            "price": f"{variant.price.quantize(Decimal('0.01')):f}",
            "currency": variant.currency,
            "available": max(getattr(getattr(variant, "stock", None), "available", 0), 0),
            "active": variant.active and variant.product.active,
            "weight_grams": variant.weight_grams or 0,
            "tax_class": variant.product.tax_class,
            "category_slugs": ancestry.get(variant.product.category_id, []),
        }
        for variant in variants_by_sku(skus=skus)
    ]


def variant_snapshots(*, product_ids: list[Any]) -> dict[str, tuple]:
    """sku -> the state product.updated carries, to tell what an edit changed."""
    return {
        row[0]: row[1:]
        for row in Variant.objects.filter(product_id__in=product_ids).values_list(
            "sku", "product_id", "product__name", "name", "price", "currency", "product__active", "active"
        )
    }
