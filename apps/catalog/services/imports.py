"""The catalog import: validated rows upserted as products, variants and stock in one
transaction, with product.updated for what changed. Rows are read and validated in
apps/catalog/importing.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apps.catalog import selectors
from apps.catalog.importing import ImportRow, stock_rows_for, validate_rows
from apps.catalog.models import Category, Product, Stock, StockAdjustment, Variant
from apps.catalog.services.common import PRODUCER
from apps.catalog.services.products import product_listing_refresh, product_updates_publish
from apps.catalog.services.stock import stock_ensure
from apps.core.db import atomic
from apps.core.exceptions import ValidationFailed


@dataclass(frozen=True)
class ImportSummary:
    products_created: int
    products_updated: int
    variants_created: int
    variants_updated: int
    stock_adjusted: int
    events_published: int


def catalog_import(
    *, rows: list[ImportRow], actor: str, reason: str, progress: Callable[[int, int], None] | None = None
) -> ImportSummary:
    """Write validated import rows (importing.validate_rows) in one transaction: upsert products
    by slug and variants by SKU, set stock on hand (each change audited), and publish
    product.updated for what changed. Raises ValidationFailed if the rows were not validated."""
    batch = 500
    with atomic(PRODUCER):
        # Re-checked inside the transaction: the database may have changed since validation.
        _, errors = validate_rows([(row.row, _raw(row)) for row in rows])
        if errors:
            raise ValidationFailed({"rows": [str(error) for error in errors]}, code="import_invalid")
        # Stock rows first, in SKU order, as the reservations take them; product rows after.
        list(
            Stock.objects.select_for_update(of=("self",))
            .filter(variant__sku__in=[row.sku for row in rows])
            .order_by("variant__sku")
            .values_list("pk", flat=True)
        )
        categories = dict(Category.objects.values_list("slug", "id"))
        by_slug: dict[str, ImportRow] = {}
        for row in rows:
            by_slug.setdefault(row.product_slug, row)
        products = {
            product.slug: product for product in Product.objects.filter(slug__in=list(by_slug)).defer("search_vector")
        }
        before = selectors.variant_snapshots(product_ids=[product.pk for product in products.values()])

        new_products, changed_products = [], []
        for slug, row in by_slug.items():
            values = {
                "name": row.product_name,
                "description": row.description,
                "brand": row.brand,
                "category_id": categories.get(row.category),
                "active": row.product_active,
                "attributes": row.attributes,
            }
            product = products.get(slug)
            if product is None:
                product = Product(slug=slug, **values)
                new_products.append(product)
                products[slug] = product
            elif any(getattr(product, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(product, name, value)
                changed_products.append(product)
        Product.objects.bulk_create(new_products, batch_size=batch)
        product_fields = ["name", "description", "brand", "category_id", "active", "attributes", "updated_at"]
        for product in changed_products:
            product.updated_at = timezone.now()
        Product.objects.bulk_update(changed_products, product_fields, batch_size=batch)

        variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=[row.sku for row in rows])}
        new_variants, changed_variants = [], []
        variant_fields = ["name", "price", "currency", "compare_at_price", "option_values", "weight_grams", "active"]
        for row in rows:
            values = {
                "name": row.variant_name,
                "price": row.price,
                "currency": row.currency,
                "compare_at_price": row.compare_at_price,
                "option_values": row.options,
                "weight_grams": row.weight_grams,
                "active": row.variant_active,
            }
            variant = variants.get(row.sku)
            if variant is None:
                variant = Variant(product=products[row.product_slug], sku=row.sku, **values)
                new_variants.append(variant)
                variants[row.sku] = variant
            elif any(getattr(variant, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(variant, name, value)
                changed_variants.append(variant)
        Variant.objects.bulk_create(new_variants, batch_size=batch)
        Variant.objects.bulk_update(changed_variants, variant_fields, batch_size=batch)
        stock_ensure(variants=new_variants)

        stocks = stock_rows_for([variant.pk for variant in variants.values()])
        adjusted, audit = [], []
        for index, row in enumerate(rows, start=1):
            variant = variants[row.sku]
            stock = stocks[variant.pk]
            if row.stock is not None and row.stock != stock.on_hand:
                audit.append(
                    StockAdjustment(
                        variant=variant,
                        sku=row.sku,
                        delta=row.stock - stock.on_hand,
                        on_hand_after=row.stock,
                        reason=reason[:255],
                        actor=actor,
                    )
                )
                stock.on_hand = row.stock
                stock.updated_at = timezone.now()
                adjusted.append(stock)
            if progress and index % 1000 == 0:
                progress(index, len(rows))
        Stock.objects.bulk_update(adjusted, ["on_hand", "updated_at"], batch_size=batch)
        StockAdjustment.objects.bulk_create(audit, batch_size=batch)
        product_listing_refresh(product_ids=[product.pk for product in products.values()])
        published = product_updates_publish(before=before, product_ids=[product.pk for product in products.values()])
    return ImportSummary(
        products_created=len(new_products),
        products_updated=len(changed_products),
        variants_created=len(new_variants),
        variants_updated=len(changed_variants),
        stock_adjusted=len(adjusted),
        events_published=published,
    )


def _raw(row: ImportRow) -> dict[str, Any]:
    return {
        "product_slug": row.product_slug,
        "product_name": row.product_name,
        "description": row.description,
        "brand": row.brand,
        "category": row.category,
        "product_active": str(row.product_active),
        "attributes": row.attributes,
        "sku": row.sku,
        "variant_name": row.variant_name,
        "price": str(row.price),
        "currency": row.currency,
        "compare_at_price": "" if row.compare_at_price is None else str(row.compare_at_price),
        "options": row.options,
        "weight_grams": "" if row.weight_grams is None else str(row.weight_grams),
        "stock": "" if row.stock is None else str(row.stock),
        "variant_active": str(row.variant_active),
    }
