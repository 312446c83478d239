"""The shopper's product list (filters, search, ordering) and product detail, and the staff side's
product reads (publishability, an import's preview).

The list is one SQL query whatever the page size: price, currency, stock and the first image are
the product's stored listing summary, not per-product lookups, and a category filter is the
category's subtree in the same query. Its first pages have a leaner read of their own
(first_pages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform

from apps.catalog.models import Category, Product, ProductImage, Variant
from apps.core.exceptions import NotFound
from apps.core.services import db_alias

# ordering name -> the fields the cursor paginates on (first carries the position, last is unique)
ORDERINGS: dict[str, tuple[str, ...]] = {
    "name": ("name", "id"),
    "price": ("price_from", "id"),
    "-price": ("-price_from", "-id"),
    "newest": ("-created_at", "-id"),
    "relevance": ("-rank", "id"),
}
LIST_FIELDS = (
    "id",
    "name",
    "slug",
    "brand",
    "created_at",
    "category_slug",
    "price_from",
    "currency",
    "compare_at_price",
    "in_stock",
    "primary_image",
)


@dataclass(frozen=True)
class ProductFilters:
    """Validated list filters (the API turns query parameters into this)."""

    category: str | None = None  # a slug: the category and its descendants
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    brand: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    q: str | None = None


def _uses_postgres() -> bool:
    return connections[db_alias("catalog")].vendor == "postgresql"


# The category with this slug and its descendants, in the list's own query (no round trip for the
# tree, nothing to keep in step), for the queryset (later pages, other filters; the first pages
# bind the subtree from the kept tree instead: _first_page). UNION, not UNION ALL: a cycle made by
# hand in the database ends the recursion instead of hanging it. PostgreSQL reads
# `= ANY(ARRAY(...))` as an InitPlan run once, then an index condition; SQLite has no arrays and
# takes IN.
_CATEGORY_SUBTREE = (
    "WITH RECURSIVE subtree(id) AS ("
    "SELECT root.id FROM {table} AS root WHERE root.slug = %s "
    "UNION SELECT child.id FROM {table} AS child JOIN subtree ON child.parent_id = subtree.id"
    ") SELECT id FROM subtree"
)


def _in_category(slug: str) -> RawSQL:
    product_column = f"{Product._meta.db_table}.category_id"
    subtree = _CATEGORY_SUBTREE.format(table=Category._meta.db_table)
    sql = f"{product_column} = ANY(ARRAY({subtree}))" if _uses_postgres() else f"{product_column} IN ({subtree})"
    # Only the models' own table names are put in the text; the slug is a bound parameter.
    return RawSQL(sql, (slug,), output_field=BooleanField())  # noqa: S611


def _sellable_variants() -> QuerySet[Variant]:
    return Variant.objects.filter(product=OuterRef("pk"), active=True)


def product_list(*, filters: ProductFilters, ordering: str) -> QuerySet:
    """Active products with at least one active variant, as dicts of LIST_FIELDS, ordered by
    ORDERINGS[ordering] (which the caller paginates). Price, currency, stock and image come from
    the product's listing summary (services.products.product_listing_refresh), so this is one
    query on one table plus the category join."""
    queryset = Product.objects.filter(active=True, price_from__isnull=False).annotate(category_slug=F("category__slug"))
    if filters.category is not None:
        queryset = queryset.filter(_in_category(filters.category))
    if filters.brand:
        queryset = queryset.filter(brand__iexact=filters.brand)
    if filters.min_price is not None or filters.max_price is not None or filters.options:
        # One variant must match every variant-level filter at once (a red M at <= 30, not a red
        # XL at 50 and a blue M at 20).
        variants = _sellable_variants()
        if filters.min_price is not None:
            variants = variants.filter(price__gte=filters.min_price)
        if filters.max_price is not None:
            variants = variants.filter(price__lte=filters.max_price)
        for position, (name, value) in enumerate(filters.options.items()):
            # The name as a key of the JSON object, never parsed as a lookup path ("__").
            alias = f"option_{position}"
            variants = variants.alias(**{alias: KeyTextTransform(name, "option_values")}).filter(
                **{f"{alias}__iexact": value}
            )
        queryset = queryset.filter(Exists(variants))
    if filters.in_stock is not None:
        queryset = queryset.filter(in_stock=filters.in_stock)
    if filters.q:
        queryset = _search(queryset, filters.q)
    return queryset.order_by(*ORDERINGS[ordering]).values(*LIST_FIELDS, *(("rank",) if filters.q else ()))


def _search(queryset: QuerySet, q: str) -> QuerySet:
    if _uses_postgres():
        # The stored, GIN-indexed search_vector (weights: name A, brand B, description C).
        query = SearchQuery(q, config="english", search_type="websearch")
        return queryset.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
    # SQLite (local default): substring match; a name match ranks above a description match.
    match = Q(name__icontains=q) | Q(brand__icontains=q) | Q(description__icontains=q)
    return queryset.filter(match).annotate(
        rank=Case(
            When(name__icontains=q, then=Value(1.0)),
            When(brand__icontains=q, then=Value(0.5)),
            default=Value(0.1),
            output_field=FloatField(),
        )
    )


def product_get(*, slug: str) -> Product:
    """An active product with its variants (each with stock) and images: three queries."""
    product = (
        Product.objects.filter(active=True, slug=slug)
        .select_related("category")
        .defer("search_vector")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(active=True).select_related("stock")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
        )
        .first()
    )
    if product is None:
        raise NotFound(f"There is no product {slug!r}.", code="product_not_found")
    return product


def brand_exists(*, brand: str) -> bool:
    return Product.objects.filter(active=True, brand__iexact=brand).exists()


def product_ids_without_active_variant(*, product_ids: list[Any]) -> list[Any]:
    """Those of these products that have no active variant (nothing to sell, so not publishable)."""
    return list(
        Product.objects.filter(pk__in=product_ids)
        .exclude(Exists(Variant.objects.filter(product=OuterRef("pk"), active=True)))
        .values_list("pk", flat=True)
    )


def catalog_import_preview(*, rows: list[Any]) -> dict[str, int]:
    """What validated import rows would do: products and variants created or updated, stock set."""
    slugs = {row.product_slug for row in rows}
    skus = {row.sku for row in rows}
    existing_products = set(Product.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    existing_variants = set(Variant.objects.filter(sku__in=skus).values_list("sku", flat=True))
    return {
        "rows": len(rows),
        "products_created": len(slugs - existing_products),
        "products_updated": len(slugs & existing_products),
        "variants_created": len(skus - existing_variants),
        "variants_updated": len(skus & existing_variants),
        "stock_set": sum(1 for row in rows if row.stock is not None),
    }
