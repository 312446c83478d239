"""The landing page's and the category pages' first rows (no other filter, no cursor), by far the
commonest list requests: SQL compiled once per process, a category's subtree read from the tree
this process keeps (_CategoryTree) and, on PostgreSQL, the items written as JSON by the database."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import (
    BooleanField,
)
from django.db.models.expressions import RawSQL

from apps.catalog.models import Category, Product
from apps.catalog.selectors.categories import UnknownCategory, category_exists
from apps.catalog.selectors.products import ORDERINGS, ProductFilters, product_list
from apps.core.services import db_alias


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
    return connections[db_alias("catalog")].vendor == "postgresql"


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
