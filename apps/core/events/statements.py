"""The SQL the event mechanics run for every event: the outbox row's INSERT, the relay's claim
of unsent rows and its mark of the sent ones, and the inbox row's INSERT. Each is the same text
every time for one table, database alias and row count, so it is built once per process (the
claim by the ORM's own compiler, the others from the model's fields, quoted) and only executed
afterwards: the ORM spent more CPU compiling these small statements than running them. The
values are always parameters, prepared by the model's fields as the ORM prepares them.

The caches hold SQL text and field lists, never rows."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Field, Model

# The most rows one INSERT carries (a bulk change publishing thousands of events).
INSERT_BATCH_ROWS = 1000


@functools.cache
def _insert_sql(model: type[Model], alias: str, rows: int, ignore_existing: bool) -> tuple[str, tuple[Field, ...]]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Table and column names come from the model, quoted; the values are parameters.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608
    if ignore_existing:
        sql += f" ON CONFLICT ({quote(model._meta.pk.column)}) DO NOTHING"
    return sql, fields


def rows_insert(model: type[Model], objs: Sequence[Model], *, alias: str, ignore_existing: bool = False) -> int:
    """INSERT `objs` (every field given; no database defaults, no RETURNING) in batches; with
    `ignore_existing`, a row whose primary key is taken is skipped (ON CONFLICT DO NOTHING).
    Returns how many rows were inserted."""
    connection = connections[alias]
    fields = list(model._meta.concrete_fields)
    # As bulk_create: no more parameters in one statement than the database takes (SQLite's limit).
    rows = max(1, min(INSERT_BATCH_ROWS, connection.ops.bulk_batch_size(fields, objs)))
    inserted = 0
    for start in range(0, len(objs), rows):
        batch = objs[start : start + rows]
        sql, fields = _insert_sql(model, alias, len(batch), ignore_existing)
        params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in batch for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted += cursor.rowcount
    return inserted


@functools.cache
def claim_sql(model: type[Model], alias: str, batch_size: int) -> tuple[str, tuple[Any, ...]]:
    """The relay's claim: up to `batch_size` unsent rows, oldest first, locked (FOR UPDATE SKIP
    LOCKED where the database has it) and marked sent with one more attempt, in one statement that
    returns them (the subquery compiled by the ORM on first use, which must be inside a
    transaction). The mark is the claim's transaction's: no one sees it before that commits, which
    the relay does only once the publish succeeded."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    meta = model._meta
    unsent = (
        model._default_manager.select_for_update(skip_locked=True)
        .filter(sent_at__isnull=True)
        .order_by("occurred_at")
        .values("pk")[:batch_size]
    )
    subquery, params = unsent.query.get_compiler(using=alias).as_sql()
    attempts = quote(meta.get_field("attempts").column)
    returning = ", ".join(quote(field.column) for field in meta.concrete_fields)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('sent_at').column)} = %s, "  # noqa: S608
        f"{attempts} = {attempts} + 1 WHERE {quote(meta.pk.column)} IN ({subquery}) RETURNING {returning}"
    )
    return sql, tuple(params)


@functools.cache
def _converters(model: type[Model], alias: str) -> tuple[tuple[Any, tuple[Any, ...]], ...]:
    """Each concrete field's column and its converters from database values, as the ORM applies
    them to a row it reads."""
    connection = connections[alias]
    columns = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
    return tuple(
        (column, (*connection.ops.get_db_converters(column), *column.field.get_db_converters(connection)))
        for column in columns
    )


def rows_claim(model: type[Model], *, alias: str, batch_size: int, when: datetime) -> list[Model]:
    """Claim unsent rows and mark them sent at `when` (claim_sql), oldest first; in a transaction
    that the caller commits only once they are sent, or once those that were not are unmarked
    (outbox._sent_record)."""
    connection = connections[alias]
    sql, params = claim_sql(model, alias, batch_size)
    sent_at = model._meta.get_field("sent_at").get_db_prep_save(when, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [sent_at, *params])
        fetched = cursor.fetchall()
    converters = _converters(model, alias)
    rows = []
    for values in fetched:
        converted = []
        for value, (column, column_converters) in zip(values, converters, strict=True):
            for converter in column_converters:
                value = converter(value, column, connection)
            converted.append(value)
        rows.append(model.from_db(alias, None, converted))
    # RETURNING keeps no order.
    return sorted(rows, key=lambda row: row.occurred_at)


@functools.cache
def _mark_sent_sql(model: type[Model], alias: str, rows: int) -> str:
    quote = connections[alias].ops.quote_name
    meta = model._meta
    attempts = quote(meta.get_field("attempts").column)
    keys = ", ".join(["%s"] * rows)
    return (
        f"UPDATE {quote(meta.db_table)} SET {quote(meta.get_field('sent_at').column)} = %s, "  # noqa: S608
        f"{attempts} = {attempts} + 1 WHERE {quote(meta.pk.column)} IN ({keys})"
    )


def rows_mark_sent(model: type[Model], pks: Iterable[Any], *, alias: str, when: datetime) -> None:
    """sent_at = `when` and one more attempt, for the rows of these primary keys."""
    connection = connections[alias]
    keys = [model._meta.pk.get_db_prep_value(pk, connection) for pk in pks]
    sent_at = model._meta.get_field("sent_at").get_db_prep_save(when, connection)
    with connection.cursor() as cursor:
        cursor.execute(_mark_sent_sql(model, alias, len(keys)), [sent_at, *keys])
