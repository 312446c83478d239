"""The statements of the saga's stock steps (services/reservations.py), as SQL built once per
process and database alias (the models' table names, quoted), then only executed.

Why not querysets: these run for every order, and building and compiling their querysets was most
of catalog's CPU per order (docs/benchmarks.md). The SQL is the same on PostgreSQL and SQLite (the
all-in-one shape): INSERT ... ON CONFLICT and UPDATE ... RETURNING both have; only the row lock
(FOR UPDATE OF, which SQLite neither has nor needs: a write transaction there holds the whole
database) is PostgreSQL's. Statements naming a list take as many placeholders as it has items,
one SQL text per length (a few: an order's distinct SKUs). Must run inside atomic("catalog")."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from apps.catalog.models import Product, Reservation, ReservationLine, Stock, Variant
from apps.catalog.services.common import PRODUCER
from apps.core.services import db_alias


class LockedStock(NamedTuple):
    """A SKU's stock row, locked, as it was before this transaction changed it."""

    variant_id: int
    sku: str
    product_id: Any
    on_hand: int
    reserved: int
    sellable: bool  # the variant and its product are both active


def _connection() -> BaseDatabaseWrapper:
    return connections[db_alias(PRODUCER)]


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _lock_clause(connection: BaseDatabaseWrapper) -> str:
    return " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""


# The columns of LockedStock, from stock (s), variant (v) and product (p).
_LOCKED_COLUMNS = "s.variant_id, v.sku, v.product_id, s.on_hand, s.reserved, v.active AND p.active"


def _locked_from(connection: BaseDatabaseWrapper) -> str:
    quote = connection.ops.quote_name
    return (
        f"{quote(Stock._meta.db_table)} AS s "
        f"JOIN {quote(Variant._meta.db_table)} AS v ON v.id = s.variant_id "
        f"JOIN {quote(Product._meta.db_table)} AS p ON p.id = v.product_id"
    )


@functools.lru_cache(maxsize=64)
def _stock_lock_by_sku_sql(alias: str, count: int) -> str:
    connection = connections[alias]
    return (
        f"SELECT {_LOCKED_COLUMNS} FROM {_locked_from(connection)} "  # noqa: S608 (names from the models)
        f"WHERE v.sku IN ({_placeholders(count)}) ORDER BY v.sku{_lock_clause(connection)}"
    )


def stock_lock_by_sku(*, skus: Sequence[str]) -> list[LockedStock]:
    """The stock rows of these SKUs, locked in SKU order (the order every stock step takes its
    locks in, so that none deadlocks with another). SKUs without a stock row are absent."""
    if not skus:
        return []
    connection = _connection()
    with connection.cursor() as cursor:
        cursor.execute(_stock_lock_by_sku_sql(connection.alias, len(skus)), list(skus))
        return [LockedStock(*row) for row in cursor.fetchall()]


@functools.cache
def _reservation_stock_lock_sql(alias: str) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    return (
        f"SELECT {_LOCKED_COLUMNS}, l.quantity FROM {_locked_from(connection)} "  # noqa: S608
        f"JOIN {quote(ReservationLine._meta.db_table)} AS l ON l.variant_id = s.variant_id "
        f"WHERE l.reservation_id = %s ORDER BY v.sku{_lock_clause(connection)}"
    )


def reservation_stock_lock(*, reservation_id: int) -> list[tuple[LockedStock, int]]:
    """The stock rows a reservation's lines hold units of, locked in SKU order, each with the
    line's quantity."""
    connection = _connection()
    with connection.cursor() as cursor:
        cursor.execute(_reservation_stock_lock_sql(connection.alias), [reservation_id])
        return [(LockedStock(*row[:-1]), row[-1]) for row in cursor.fetchall()]


@functools.lru_cache(maxsize=64)
def _stock_change_sql(alias: str, count: int) -> str:
    quote = connections[alias].ops.quote_name
    cases = " ".join(["WHEN %s THEN %s"] * count)
    return (
        f"UPDATE {quote(Stock._meta.db_table)} SET "  # noqa: S608
        f"on_hand = on_hand + CASE variant_id {cases} END, "
        f"reserved = reserved + CASE variant_id {cases} END, "
        f"updated_at = %s WHERE variant_id IN ({_placeholders(count)})"
    )


def stock_change(*, changes: Sequence[tuple[int, int, int]]) -> None:
    """Add (variant id, units on hand, units reserved) to those stock rows, in one statement.
    The rows must be locked already (stock_lock_by_sku, reservation_stock_lock): that lock, not
    this statement, sets the order rows are locked in."""
    if not changes:
        return
    connection = _connection()
    params: list[Any] = [value for variant_id, on_hand, _ in changes for value in (variant_id, on_hand)]
    params += [value for variant_id, _, reserved in changes for value in (variant_id, reserved)]
    params.append(connection.ops.adapt_datetimefield_value(timezone.now()))
    params += [variant_id for variant_id, _, _ in changes]
    with connection.cursor() as cursor:
        cursor.execute(_stock_change_sql(connection.alias, len(changes)), params)


@functools.cache
def _reservation_claim_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    return (
        f"INSERT INTO {quote(Reservation._meta.db_table)} (order_id, status, created_at, updated_at) "  # noqa: S608
        "VALUES (%s, %s, %s, %s) ON CONFLICT (order_id) DO NOTHING RETURNING id"
    )


def reservation_claim(*, order_id: uuid.UUID, status: str) -> int | None:
    """Write the order's reservation row with `status`; its id, or None when the order has one
    already. A concurrent claim of the same order waits on the unique key until the first one's
    transaction ends, then finds it taken (or, if that rolled back, claims it)."""
    connection = _connection()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    order = Reservation._meta.get_field("order_id").get_db_prep_value(order_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_reservation_claim_sql(connection.alias), [order, str(status), now, now])
        row = cursor.fetchone()
    return None if row is None else row[0]


@functools.cache
def _reservation_move_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    return (
        f"UPDATE {quote(Reservation._meta.db_table)} SET status = %s, updated_at = %s "  # noqa: S608
        "WHERE order_id = %s AND status = %s RETURNING id"
    )


def reservation_move(*, order_id: uuid.UUID, old: str, new: str) -> int | None:
    """Move the order's reservation from `old` to `new` status; its id, or None when it has none
    in `old`. The UPDATE locks the row: a concurrent move of the same reservation waits, then finds
    it no longer in `old`."""
    connection = _connection()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    order = Reservation._meta.get_field("order_id").get_db_prep_value(order_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_reservation_move_sql(connection.alias), [str(new), now, order, str(old)])
        row = cursor.fetchone()
    return None if row is None else row[0]


@functools.lru_cache(maxsize=64)
def _reservation_lines_add_sql(alias: str, count: int) -> str:
    quote = connections[alias].ops.quote_name
    rows = ", ".join(["(%s, %s, %s, %s)"] * count)
    table = quote(ReservationLine._meta.db_table)
    return f"INSERT INTO {table} (reservation_id, variant_id, sku, quantity) VALUES {rows}"  # noqa: S608


def reservation_lines_add(*, reservation_id: int, lines: Sequence[tuple[LockedStock, int]]) -> None:
    """A reservation line per (stock row, units), in one INSERT."""
    connection = _connection()
    params = [value for row, quantity in lines for value in (reservation_id, row.variant_id, row.sku, quantity)]
    with connection.cursor() as cursor:
        cursor.execute(_reservation_lines_add_sql(connection.alias, len(lines)), params)
