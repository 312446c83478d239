"""Reads of the catalog service, one module per use: products (the list, search and detail),
first_pages (the landing and category pages' lean first rows), categories and variants (the
lookup other services price carts with). The names callers use are gathered here."""

from apps.catalog.selectors.categories import UnknownCategory, category_ancestry, category_exists, category_tree
from apps.catalog.selectors.first_pages import product_list_start, product_list_start_json, writes_list_json
from apps.catalog.selectors.products import (
    LIST_FIELDS,
    ORDERINGS,
    ProductFilters,
    brand_exists,
    catalog_import_preview,
    product_get,
    product_ids_without_active_variant,
    product_list,
)
from apps.catalog.selectors.variants import VARIANT_LOOKUP_FIELDS, variant_lookup, variant_snapshots, variants_by_sku

__all__ = [
    "LIST_FIELDS",
    "ORDERINGS",
    "VARIANT_LOOKUP_FIELDS",
    "ProductFilters",
    "UnknownCategory",
    "brand_exists",
    "catalog_import_preview",
    "category_ancestry",
    "category_exists",
    "category_tree",
    "product_get",
    "product_ids_without_active_variant",
    "product_list",
    "product_list_start",
    "product_list_start_json",
    "variant_lookup",
    "variant_snapshots",
    "variants_by_sku",
    "writes_list_json",
]
