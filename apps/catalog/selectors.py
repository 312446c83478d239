"""Reads of the catalog service: the shopper's product list (filters, search, ordering), product
detail, the category tree and the variant lookup other services price carts with.

The list is one SQL query whatever the page size: price, currency, stock and the first image are
the product's stored listing summary, not per-product lookups, and a category filter is the
category's subtree in the same query. Its first page unfiltered or filtered by category alone,
the commonest requests, runs SQL compiled once per process (product_list_start), a category's
subtree read from the tree this process keeps (_CategoryTree)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

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

from apps.catalog.models import Category, Product, ProductImage, Stock, Variant
from apps.core.exceptions import NotFound, ValidationFailed
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


# --- Categories ----------------------------------------------------------------------------------


def category_tree() -> list[dict[str, Any]]:
    """Every category, nested under its parent, siblings by position then name."""
    nodes = {
        row["id"]: {**row, "children": []}
        for row in Category.objects.order_by("position", "name").values("id", "name", "slug", "parent_id", "position")
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.pop("parent_id"))
        (parent["children"] if parent else roots).append(node)
    return roots


def category_exists(*, slug: str) -> bool:
    return Category.objects.filter(slug=slug).exists()


class UnknownCategory(ValidationFailed):
    """A list filtered by a category that does not exist: a bad request, not an empty list."""

    def __init__(self, slug: str) -> None:
        super().__init__({"category": [f"There is no category {slug!r}."]})


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


# --- Products ------------------------------------------------------------------------------------


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


def product_list_start(*, ordering: str, limit: int, category: str | None = None) -> list[dict[str, Any]]:
    """The first `limit` rows of the list in `ordering`, unfiltered or filtered by `category` only:
    exactly what `product_list(filters=ProductFilters(category=category), ordering=ordering)[:limit]`
    yields. For the shop's landing page and its category pages (no other filter, no cursor), by
    far the commonest list requests. Raises UnknownCategory for a category that does not exist.

    Why not that queryset: building it, compiling it and iterating it through the ORM took about
    0.8 ms of CPU a request (some 40 % of the whole request's Python time), and its SQL never
    changes. So the SQL is compiled once per process and shape (_product_list_start_sql) and only
    executed here, a category's subtree (its id and its descendants') and the tree's version as
    its parameters (_first_page). That cache holds SQL text, never rows: every call reads the
    database. PostgreSQL hands these columns back as the Python values the ORM gives (none needs
    a from-db converter), so rows become dicts as they are; other databases (SQLite in local
    development) take the ordinary queryset. Tests check both give the same rows."""
    alias = db_alias("catalog")
    if connections[alias].vendor != "postgresql":
        rows = list(product_list(filters=ProductFilters(category=category), ordering=ordering)[:limit])
        if not rows and category is not None and not category_exists(slug=category):
            raise UnknownCategory(category)
        return rows
    return _first_page(alias, ordering, limit, category, json_items=False)


def product_list_start_json(
    *, ordering: str, limit: int, category: str | None = None
) -> list[tuple[str, str, str, str]]:
    """product_list_start's rows as the API's list items, written by PostgreSQL: per row the item's
    JSON text up to `"image_url":`, the stored image name ("" for none), the rest of the item's
    text, and the ordering's first field as the text str() gives of its value (what a cursor
    carries; _POSITION_TEXT). The text is what DRF's JSONRenderer writes for api.views' item dict
    (compact, non-ASCII as it is; it escapes U+2028 and U+2029 over the whole body, so the caller
    does too): the image URL is the storage backend's to make, per request, so the caller splices
    it in. Raises UnknownCategory as product_list_start does. PostgreSQL only."""
    return _first_page(db_alias("catalog"), ordering, limit, category, json_items=True)


def writes_list_json() -> bool:
    """Whether product_list_start_json can be used: the catalog's database is PostgreSQL."""
    return _uses_postgres()


# SQL text of _product_list_start_sql -> its column names (as many entries as that cache).
_COLUMN_NAMES: dict[str, tuple[str, ...]] = {}

# How many times a category page is read again when the tree changed under it (_first_page).
_TREE_CHANGES_FOLLOWED = 3


def _first_page(alias: str, ordering: str, limit: int, category: str | None, *, json_items: bool) -> list[Any]:
    """product_list_start's (or, with json_items, product_list_start_json's) rows, on PostgreSQL.

    A category page reads its subtree from this process's copy of the category tree
    (_CategoryTree), not from the database, and its query holds only if the tree is still at the
    version that copy was read at (the version is renewed by a trigger on every change to a
    category's id, slug or parent, migration 0012): a page read with an outdated copy comes back
    empty, never wrong. So an empty page, or a category this copy does not know, is the answer
    only once the tree's version is read again (one small query) and found unchanged; otherwise
    the tree is read again (one query) and the page with it. Staff's changes to the tree show on
    the next request of every process: no staleness, and no round trip for the tree on a page
    that has products, whatever else the shop does. An empty category costs two queries (the
    page and the version), as it did (the page and whether the category exists); an unknown one
    one (the version). Should the tree change again between each read of it and the page, three
    times running, the last page read is the answer (empty, or the category unknown)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        if category is None:
            statements = _product_list_start_sql(alias, ordering, limit, None)
            return _fetch(cursor, statements, statements.params, json_items=json_items)
        tree, just_read = _CATEGORY_TREES.get(alias), False
        if tree is None:
            tree, just_read = _category_tree_read(cursor, alias), True
        rows: list[Any] = []
        for _ in range(_TREE_CHANGES_FOLLOWED):
            subtree = tree.subtree(category)
            if subtree is None and just_read:
                break  # the tree as the database has it now does not know the category
            if subtree is not None:
                statements = _product_list_start_sql(alias, ordering, limit, subtree.shape)
                params = statements.bind(subtree.parameter, tree.version)
                rows = _fetch(cursor, statements, params, json_items=json_items)
                if rows:
                    return rows
            current = _category_tree_current(cursor, alias, tree)
            if current is tree:
                break
            tree, just_read = current, True
        if tree.subtree(category) is None:
            raise UnknownCategory(category)
        return rows


def _fetch(cursor: Any, statements: _FirstPageSQL, params: tuple[Any, ...], *, json_items: bool) -> list[Any]:
    if json_items:
        cursor.execute(statements.items, params)
        return cursor.fetchall()
    cursor.execute(statements.rows, params)
    # psycopg builds a Column object per column for each `description` (a sixth of
    # product_list_start's CPU); the names never change for one SQL text.
    names = _COLUMN_NAMES.get(statements.rows)
    if names is None:
        names = _COLUMN_NAMES[statements.rows] = tuple(column[0] for column in cursor.description)
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- The category tree each process keeps (category pages) ----------------------------------------

# The tree's version (migration 0012), 0 if its row was ever deleted by hand (the trigger puts it back).
_TREE_VERSION = "COALESCE((SELECT version FROM catalog_category_tree_version WHERE id = 1), 0)"


class _Subtree(NamedTuple):
    ids: tuple[int, ...]  # the category's id, then its descendants'
    shape: str  # "one" id or "many": which of the first page's statements it is bound to
    # The one id, or the ids as an array's text, which costs less to send than a list psycopg adapts.
    parameter: int | str


class _CategoryTree:
    """The category tree as the database had it at one version: each slug's subtree (the
    category's id, then its descendants'), worked out when first asked and kept. Never changed
    once read: a newer tree is a new object, so threads may share it."""

    def __init__(self, version: int, rows: list[tuple[int, str, int | None]]) -> None:
        self.version = version
        self._ids = {slug: pk for pk, slug, _ in rows}
        self._children: dict[int, list[int]] = {}
        for pk, _, parent in rows:
            if parent is not None:
                self._children.setdefault(parent, []).append(pk)
        self._subtrees: dict[str, _Subtree] = {}

    def subtree(self, slug: str) -> _Subtree | None:
        """The category with this slug and its descendants (None: no such category). A cycle
        made by hand in the database ends the walk, as the list's CTE does."""
        subtree = self._subtrees.get(slug)
        if subtree is None:
            root = self._ids.get(slug)
            if root is None:
                return None
            ids, todo = {root: None}, [root]
            while todo:
                for child in self._children.get(todo.pop(), ()):
                    if child not in ids:
                        ids[child] = None
                        todo.append(child)
            if len(ids) == 1:
                subtree = _Subtree((root,), "one", root)
            else:
                subtree = _Subtree(tuple(ids), "many", "{" + ",".join(map(str, ids)) + "}")
            self._subtrees[slug] = subtree
        return subtree


# Database alias -> the tree last read from it in this process (replaced whole, never changed).
_CATEGORY_TREES: dict[str, _CategoryTree] = {}


def _category_tree_read(cursor: Any, alias: str) -> _CategoryTree:
    """The tree and its version, read in one statement (so one snapshot), and kept."""
    # Only the models' table names and this module's fixed text are put in.
    cursor.execute(
        f"SELECT version.number, category.id, category.slug, category.parent_id "  # noqa: S608
        f"FROM (SELECT {_TREE_VERSION} AS number) AS version "
        f"LEFT JOIN {Category._meta.db_table} AS category ON TRUE"
    )
    rows = cursor.fetchall()
    tree = _CategoryTree(rows[0][0], [row[1:] for row in rows if row[1] is not None])
    _CATEGORY_TREES[alias] = tree
    return tree


def _category_tree_current(cursor: Any, alias: str, tree: _CategoryTree) -> _CategoryTree:
    """`tree` itself if the database's tree is still at its version, else the tree read again."""
    cursor.execute(f"SELECT {_TREE_VERSION}")
    if cursor.fetchone()[0] == tree.version:
        return tree
    return _category_tree_read(cursor, alias)


# Compiled in the subtree's and the version's places, then replaced by the values asked for; no
# other parameter of the list's query is a text holding a NUL.
_SUBTREE_PLACEHOLDER = "\x00subtree\x00"
_VERSION_PLACEHOLDER = "\x00version\x00"

# One list item as JSON, from the columns of the first page's query (`page`): the text DRF's
# JSONRenderer writes for the item api.views._list_item makes, key for key. to_json escapes text
# as Python's json does without ensure_ascii ("\\", "\"", \b \f \n \r \t, other controls as
# \u00xx); money is the column's text (numeric(12, 2) always shows two places, as the view's
# quantize does); the time is isoformat()'s, in UTC with "Z", microseconds only when not zero.
_ITEM_HEAD = """'{"id":"' || page.id::text
    || '","slug":' || to_json(page.slug)::text
    || ',"name":' || to_json(page.name)::text
    || ',"brand":' || to_json(page.brand)::text
    || ',"category":' || COALESCE(to_json(page.category_slug)::text, 'null')
    || ',"price":' || COALESCE('"' || page.price_from::text || '"', 'null')
    || ',"compare_at_price":' || COALESCE('"' || page.compare_at_price::text || '"', 'null')
    || ',"currency":' || to_json(page.currency)::text
    || ',"in_stock":' || CASE WHEN page.in_stock THEN 'true' ELSE 'false' END
    || ',"image_url":'"""
_ITEM_TAIL = """',"created_at":"' || to_char(
        page.created_at AT TIME ZONE 'UTC',
        CASE WHEN date_trunc('second', page.created_at) = page.created_at
            THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END
    ) || '"}'"""


# The ordering's first field as the text str() gives of the value the ORM loads (what a cursor
# carries), so that no row's value is loaded as a Python object only to be made text again: a
# name is text already; money is numeric(12, 2)'s text, which is str(Decimal)'s; a time is str()
# of an aware datetime in UTC (microseconds only when not zero). Loading 21 datetimes was most of
# what a page by newest cost beyond one by name.
_POSITION_TEXT = {
    "price_from": "page.price_from::text",
    "created_at": """to_char(
        page.created_at AT TIME ZONE 'UTC',
        CASE WHEN date_trunc('second', page.created_at) = page.created_at
            THEN 'YYYY-MM-DD HH24:MI:SS+00:00' ELSE 'YYYY-MM-DD HH24:MI:SS.US+00:00' END
    )""",
}


@dataclass(frozen=True)
class _FirstPageSQL:
    rows: str  # the queryset's own SQL: LIST_FIELDS
    items: str  # the same rows as product_list_start_json's
    params: tuple[Any, ...]

    def bind(self, subtree: int | str, version: int) -> tuple[Any, ...]:
        values = {_SUBTREE_PLACEHOLDER: subtree, _VERSION_PLACEHOLDER: version}
        return tuple(values.get(param, param) if isinstance(param, str) else param for param in self.params)


@functools.lru_cache(maxsize=64)  # orderings x page sizes in use x (no category, one id, several)
def _product_list_start_sql(alias: str, ordering: str, limit: int, subtree: str | None) -> _FirstPageSQL:
    """The first page's SQL: the whole list's (subtree None), or a category's, whose subtree is
    "one" id (a leaf: `= %s`, which the (category, ordering) indexes answer in order) or "many"
    (`= ANY(%s)`). Two texts, so PostgreSQL keeps a plan for each (a prepared statement's
    generic plan is one plan for every value). Either holds only at the tree's version bound."""
    queryset = product_list(filters=ProductFilters(), ordering=ordering)
    if subtree is not None:
        column = f"{Product._meta.db_table}.category_id"
        in_subtree = f"{column} = %s::bigint" if subtree == "one" else f"{column} = ANY(%s::bigint[])"
        # Only the models' own table names and fixed text are put in; the values are parameters.
        queryset = queryset.filter(
            RawSQL(  # noqa: S611
                f"{in_subtree} AND {_TREE_VERSION} = %s",
                (_SUBTREE_PLACEHOLDER, _VERSION_PLACEHOLDER),
                output_field=BooleanField(),
            )
        )
    sql, params = queryset[:limit].query.get_compiler(using=alias).as_sql()
    fields = ORDERINGS[ordering]
    # The outer ORDER BY repeats the inner one: SQL keeps a subquery's order only when told to.
    order_by = ", ".join(f"page.{name.lstrip('-')}{' DESC' if name.startswith('-') else ''}" for name in fields)
    # Only this module's fixed text and Django's compiled SQL are put in; values stay parameters.
    position = _POSITION_TEXT.get(fields[0].lstrip("-"), f"page.{fields[0].lstrip('-')}")
    columns = f"{_ITEM_HEAD}, page.primary_image, {_ITEM_TAIL}, {position}"
    items = f"SELECT {columns} FROM ({sql}) AS page ORDER BY {order_by}"  # noqa: S608
    return _FirstPageSQL(rows=sql, items=items, params=tuple(params))


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


def variants_by_sku(*, skus: list[str]) -> list[Variant]:
    """The variants with these SKUs (unknown ones are simply absent), with product and stock."""
    return list(
        Variant.objects.filter(sku__in=skus)
        .select_related("product", "stock")
        .defer("product__search_vector")
        .order_by("sku")
    )


def category_ancestry() -> dict[int, list[str]]:
    """category id -> its slug, then its parent's, up to the root (one query: the tree is small)."""
    parents = {pk: (slug, parent) for pk, slug, parent in Category.objects.values_list("id", "slug", "parent_id")}
    ancestry: dict[int, list[str]] = {}
    for pk in parents:
        slugs, current, seen = [], pk, set()
        while current is not None and current in parents and current not in seen:
            seen.add(current)
            slug, current = parents[current]
            slugs.append(slug)
        ancestry[pk] = slugs
    return ancestry


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
