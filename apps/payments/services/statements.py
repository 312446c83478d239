"""The statements the payment of every order runs, built once per process: the new intent's INSERT
that yields to an existing one, and the intent's row lock (by id, or by order). The ORM compiled
these on every run and spent more CPU on it than PostgreSQL spent running them. The values are
always parameters, prepared by the model's fields as the ORM prepares them; the caches hold SQL
text, never rows.

The same text runs on SQLite (all-in-one): it has ON CONFLICT DO NOTHING, and the lock is compiled
for the database in use, so without FOR UPDATE where there is none."""

from __future__ import annotations

import functools
import uuid

from django.db import connections

from apps.core.services import db_alias
from apps.payments.models import PaymentIntent
from apps.payments.services.common import SERVICE

# Any id: the lock's SQL is compiled with it, and every run passes its own.
_PLACEHOLDER = uuid.UUID(int=0)


@functools.cache
def _insert_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(field.column) for field in PaymentIntent._meta.concrete_fields)
    values = ", ".join(["%s"] * len(PaymentIntent._meta.concrete_fields))
    # No conflict target: a taken order id and a taken idempotency key both leave the row out.
    return f"INSERT INTO {quote(PaymentIntent._meta.db_table)} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"  # noqa: S608


def intent_insert_new(intent: PaymentIntent) -> bool:
    """INSERT the unsaved `intent`; False, and no error (so no savepoint needed around it), when
    an intent with its order id or its idempotency key exists already. Concurrent inserts of one
    order wait for each other: the second sees the first's row once it commits."""
    alias = db_alias(SERVICE)
    connection = connections[alias]
    fields = PaymentIntent._meta.concrete_fields
    params = [field.get_db_prep_save(field.pre_save(intent, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(alias), params)
        inserted = cursor.rowcount == 1
    if inserted:
        intent._state.adding = False
        intent._state.db = alias
    return inserted


@functools.cache
def _lock_sql(alias: str, field: str) -> str:
    # Compiled on first use, which is inside a transaction (select_for_update requires one).
    queryset = PaymentIntent.objects.using(alias).select_for_update().filter(**{field: _PLACEHOLDER}).order_by()
    sql, params = queryset.query.get_compiler(using=alias).as_sql()
    if len(params) != 1:
        raise RuntimeError(f"the intent's lock by {field} takes {len(params)} parameters, not one")
    return sql


def intent_locked(*, pk: uuid.UUID | None = None, order_id: uuid.UUID | None = None) -> PaymentIntent | None:
    """The intent of this id (or of this order), locked until the transaction ends; None if none.
    Must run inside a transaction on payments' database."""
    field, value = ("id", pk) if order_id is None else ("order_id", order_id)
    alias = db_alias(SERVICE)
    connection = connections[alias]
    param = PaymentIntent._meta.get_field(field).get_db_prep_value(value, connection)
    return next(iter(PaymentIntent.objects.db_manager(alias).raw(_lock_sql(alias, field), [param])), None)
