"""What one order costs the orders service in database round trips and catalog calls, step by
step (bench/orders_cost.py measures the same on the split stack's settings): the cart-line add,
the checkout, and the saga's stock.reserved and payment.succeeded. Each count is what the step
needs; one more is a repeat someone added, one fewer a step that stopped doing its work.

In the tests every atomic block is a savepoint of the test's transaction (SAVEPOINT and RELEASE,
where the stack has BEGIN and COMMIT), and the relay pass after commit does not run here."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from apps.core.services import db_alias
from apps.orders.models import CartLine, OrderStatus, OrderStatusChange
from apps.orders.services.checkout import order_checkout
from tests.orders.conftest import ADDRESS, client_for, published, send

pytestmark = pytest.mark.django_db(databases="__all__")

LINES = "/api/v1/orders/cart/lines/"


def _orders_queries():
    return CaptureQueriesContext(connections[db_alias("orders")])


def _statements(queries) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]


def test_adding_a_line_to_the_shoppers_cart_asks_catalog_once_and_reads_the_cart_once(catalog, shopper):
    client = client_for(shopper)
    client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")  # the cart exists
    catalog.calls.clear()

    with _orders_queries() as queries:
        response = client.post(LINES, {"sku": "TEE-RED-M", "quantity": 1}, format="json")

    assert response.status_code == 200, response.json()
    assert [line["sku"] for line in response.json()["lines"]] == ["MUG-01", "TEE-RED-M"]
    # One price lookup for the added SKU and the one already there, which also prices the answer.
    assert catalog.calls == [["MUG-01", "TEE-RED-M"]]
    # The cart's SKUs; then, in the transaction: the cart locked, its lines, the new line, the
    # cart's updated_at. The answer reads nothing more.
    assert _statements(queries) == ["SELECT", "SAVEPOINT", "SELECT", "SELECT", "INSERT", "UPDATE", "RELEASE"]


def test_checkout_reads_the_cart_once_before_its_transaction_and_the_key_only_once(place_order, catalog, shopper):
    order = place_order(shopper, {"MUG-01": 1})  # the cart exists, emptied by this checkout
    client = client_for(shopper)
    client.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json")

    with _orders_queries() as queries:
        response = client.post(
            "/api/v1/orders/",
            {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="round-trips",
        )

    assert response.status_code == 201, response.json()
    assert response.json()["id"] != str(order.id)
    # Before: the key's earlier order, the cart with its lines. In the transaction: the cart
    # locked, its lines, the order, its lines, its history, the cart emptied and its voucher
    # cleared, order.created. (All-in-one the answer is then read back: the saga ran on commit.)
    assert _statements(queries)[:12] == [
        "SELECT",
        "SELECT",
        "SAVEPOINT",
        "SELECT",
        "SELECT",
        "INSERT",
        "INSERT",
        "INSERT",
        "DELETE",
        "UPDATE",
        "INSERT",
        "RELEASE",
    ]


def test_a_twin_that_won_while_checkout_waited_for_the_cart_is_the_answer(place_order, catalog, shopper, monkeypatch):
    place_order(shopper, {"MUG-01": 1})
    cart_line = {"sku": "MUG-01", "quantity": 2}
    client_for(shopper).post(LINES, cart_line, format="json")
    twin: list = []
    lookup = catalog.variants

    def variants_while_a_twin_checks_out(skus, **kwargs):
        # Between this checkout's read of the cart and its lock on it, the same request (same
        # key, same body) checks out and commits: it empties the cart.
        if not twin:
            twin.append(None)
            twin.append(_checkout(shopper, "twin-key"))
        return lookup(skus, **kwargs)

    monkeypatch.setattr(catalog, "variants", variants_while_a_twin_checks_out)

    result = _checkout(shopper, "twin-key")

    assert result.created is False
    assert result.order.id == twin[1].order.id
    assert len(published("order.created", result.order)) == 1


def test_a_twin_that_won_with_the_cart_refilled_alike_is_the_answer(place_order, catalog, shopper, monkeypatch):
    place_order(shopper, {"MUG-01": 1})
    client = client_for(shopper)
    client.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json")
    twin: list = []
    lookup = catalog.variants

    def variants_while_a_twin_checks_out_and_the_cart_is_refilled(skus, **kwargs):
        if not twin:
            twin.append(None)
            twin.append(_checkout(shopper, "twin-key"))
            # The shopper puts the same goods in the cart again: the lines match once more.
            client.post(LINES, {"sku": "MUG-01", "quantity": 2}, format="json")
        return lookup(skus, **kwargs)

    monkeypatch.setattr(catalog, "variants", variants_while_a_twin_checks_out_and_the_cart_is_refilled)

    result = _checkout(shopper, "twin-key")

    assert result.created is False
    assert result.order.id == twin[1].order.id
    assert len(published("order.created", result.order)) == 1
    assert CartLine.objects.filter(cart__customer_id=shopper.id).count() == 1  # the refill stays


def _checkout(shopper, key: str):
    return order_checkout(
        customer_id=shopper.id,
        email=shopper.email,
        idempotency_key=key,
        shipping_address=ADDRESS,
        payment_method_token="pm_test_visa",
    )


def test_the_saga_steps_lock_the_order_once_and_update_it_once(place_order, shopper):
    order = place_order(shopper)

    with _orders_queries() as reserved:
        assert send("stock.reserved", "catalog", order_id=str(order.id), lines=[{"sku": "MUG-01", "quantity": 2}])
    order.refresh_from_db()
    with _orders_queries() as paid:
        assert send(
            "payment.succeeded",
            "payments",
            order_id=str(order.id),
            payment_id=f"pay_{uuid.uuid4().hex[:8]}",
            amount=str(order.total),
            currency=order.currency,
        )

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.amount_captured == order.total and order.payment_method_token == ""
    history = list(OrderStatusChange.objects.filter(order=order).values_list("to_status", flat=True))
    assert history == [OrderStatus.PENDING, OrderStatus.STOCK_RESERVED, OrderStatus.CONFIRMED]
    # The inbox row, the order locked, one UPDATE with the status and the step's fields, the
    # history row, the next event; payment.succeeded reads the lines for order.confirmed.
    assert _statements(reserved) == ["SAVEPOINT", "INSERT", "SELECT", "UPDATE", "INSERT", "INSERT", "RELEASE"]
    assert _statements(paid) == ["SAVEPOINT", "INSERT", "SELECT", "UPDATE", "INSERT", "SELECT", "INSERT", "RELEASE"]


def test_the_cart_line_adds_and_checkouts_reads_are_compiled_once_per_process(catalog, shopper, monkeypatch):
    """The reads every cart-line add and checkout make are compiled by the ORM on first use only
    (apps/orders/services/statements.py): the second round compiles none of them, only the checkout's read
    of the cart with its lines (a join) is still a queryset."""
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(compiler, *args, **kwargs):
        compiled.append(compiler.query.model._meta.db_table)
        return as_sql(compiler, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    client = client_for(shopper)
    rounds = []
    for key in ("first", "second"):
        compiled.clear()
        response = client.post(LINES, {"sku": "MUG-01", "quantity": 1}, format="json")
        assert response.status_code in (200, 201), response.json()
        added = [table for table in compiled if table in ("orders_cart", "orders_cartline", "orders_order")]
        compiled.clear()
        response = client.post(
            "/api/v1/orders/",
            {"shipping_address": ADDRESS, "payment_method_token": "pm_test_visa"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code == 201, response.json()
        checkout = [table for table in compiled if table in ("orders_cart", "orders_cartline", "orders_order")]
        rounds.append((added, checkout))

    # The second round: nothing for the cart-line add; for the checkout, the cart with its lines,
    # and (all-in-one, where the saga ran on commit) the answer's read back of the order.
    assert rounds[1] == ([], ["orders_cartline", "orders_order"])
