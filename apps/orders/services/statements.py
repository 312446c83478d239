"""The reads every cart-line add and checkout makes, compiled by the ORM once per process and
database, then run with each request's values (as apps/core/events/statements.py does for the
event rows): building and compiling these small querysets cost more CPU than running them.

Each is a queryset written as usual, with placeholder values where the request's go; its SQL and
parameters are compiled on first use, and later runs swap the placeholders for the values. The
caches hold SQL text and parameters, never rows."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from django.db import connections
from django.db.models import QuerySet, UUIDField

from apps.core.services import db_alias
from apps.orders.models import Cart, CartLine, Order

# Placeholders, found among the compiled parameters by equality: no request sends these.
_CUSTOMER = uuid.UUID("00000000-0000-4000-8000-00000000c057")
_CART = uuid.UUID("00000000-0000-4000-8000-0000000ca127")
_KEY = "\x00idempotency-key\x00"
_UUID = UUIDField()


def _alias() -> str:
    return db_alias("orders")


@functools.cache
def _compiled(build: Callable[[], QuerySet], alias: str) -> tuple[str, tuple[Any, ...]]:
    sql, params = build().query.get_compiler(using=alias).as_sql()
    return sql, tuple(params)


def _prepared(value: Any, alias: str) -> Any:
    # As the compiler prepared the placeholder: a UUID stays one on PostgreSQL, is hex on SQLite.
    return _UUID.get_db_prep_value(value, connections[alias]) if isinstance(value, uuid.UUID) else value


def _params(build: Callable[[], QuerySet], alias: str, values: Mapping[Any, Any]) -> tuple[str, list[Any]]:
    sql, template = _compiled(build, alias)
    swapped = {_prepared(placeholder, alias): _prepared(value, alias) for placeholder, value in values.items()}
    return sql, [swapped.get(param, param) for param in template]


def _rows(build: Callable[[], QuerySet], values: Mapping[Any, Any]) -> list[Any]:
    alias = _alias()
    model = build().model
    return list(model._default_manager.db_manager(alias).raw(*_params(build, alias, values)))


# --- The statements -------------------------------------------------------------------------------


def _customer_cart_skus() -> QuerySet:
    return CartLine.objects.filter(cart__customer_id=_CUSTOMER, cart__status=Cart.Status.ACTIVE).values_list("sku")


def _customer_cart_locked() -> QuerySet:
    # At most one active cart per shopper (a partial unique index): LIMIT 1 is .first()'s.
    return Cart.objects.select_for_update().filter(customer_id=_CUSTOMER, status=Cart.Status.ACTIVE).order_by("pk")[:1]


def _cart_locked() -> QuerySet:
    return Cart.objects.select_for_update().filter(pk=_CART)


def _cart_lines() -> QuerySet:
    return CartLine.objects.filter(cart_id=_CART)  # the model's ordering, as cart.lines.all()


def _customer_order_for_key() -> QuerySet:
    # The key is unique per shopper (an index): LIMIT 1 is .first()'s.
    return Order.objects.filter(customer_id=_CUSTOMER, idempotency_key=_KEY).order_by("pk")[:1]


def customer_cart_skus(*, customer_id: uuid.UUID) -> list[str]:
    """The SKUs in the shopper's active cart."""
    alias = _alias()
    with connections[alias].cursor() as cursor:
        cursor.execute(*_params(_customer_cart_skus, alias, {_CUSTOMER: customer_id}))
        return [sku for (sku,) in cursor.fetchall()]


def customer_cart_locked(*, customer_id: uuid.UUID) -> Cart | None:
    """The shopper's active cart, its row locked (inside a transaction), or None."""
    found = _rows(_customer_cart_locked, {_CUSTOMER: customer_id})
    return found[0] if found else None


def cart_locked(*, cart_id: uuid.UUID) -> Cart:
    """The cart, its row locked (inside a transaction); Cart.DoesNotExist if it is gone."""
    found = _rows(_cart_locked, {_CART: cart_id})
    if not found:
        raise Cart.DoesNotExist(f"no cart {cart_id}")
    return found[0]


def cart_lines(cart: Cart) -> list[CartLine]:
    """`cart.lines.all()`, each line's cart the one given (as the related manager gives it)."""
    lines = _rows(_cart_lines, {_CART: cart.pk})
    for line in lines:
        line.cart = cart
    return lines


def customer_order_for_key(*, customer_id: uuid.UUID, idempotency_key: str) -> Order | None:
    """The shopper's order placed with this Idempotency-Key, if any."""
    found = _rows(_customer_order_for_key, {_CUSTOMER: customer_id, _KEY: idempotency_key})
    return found[0] if found else None
