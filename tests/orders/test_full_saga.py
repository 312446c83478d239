"""The whole checkout saga in one process, with the real services on every side: catalog's
variants API served by live_server (orders prices through it over HTTP), catalog reserving and
committing stock, payments charging the sandbox provider, and orders orchestrating; a decline
holding the stock until the payment deadline; a refund by line that gives the money back
(payments) and puts the goods back on the shelf (catalog); and a return from a parcel, with the
refund of its share, whose goods go back on the shelf once, however often it is submitted."""

from __future__ import annotations

import uuid

import pytest

from apps.catalog.importing import validate_rows
from apps.catalog.models import Stock, StockAdjustment
from apps.catalog.services.imports import catalog_import
from apps.orders.models import Order, OrderStatus, Refund
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.returns import return_record
from apps.orders.services.saga import orders_expire_stalled
from apps.orders.services.shipments import shipment_create
from tests.orders.conftest import ADDRESS, client_for, make_shopper

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def seed(sku: str, *, price: str, stock: int) -> None:
    rows, errors = validate_rows(
        [
            (
                2,
                {
                    "product_slug": sku.lower(),
                    "product_name": f"Saga {sku}",
                    "sku": sku,
                    "price": price,
                    "currency": "EUR",
                    "stock": str(stock),
                },
            )
        ]
    )
    assert not errors, errors
    catalog_import(rows=rows, actor="test", reason="seed")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


def _checkout(client, token: str, key: str):
    return client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS, "payment_method_token": token},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_checkout_reaches_confirmed(live_catalog):
    seed("SAGA-MUG", price="12.50", stock=5)
    shopper = make_shopper()
    client = client_for(shopper)

    added = client.post("/api/v1/orders/cart/lines/", {"sku": "SAGA-MUG", "quantity": 2}, format="json")
    assert added.status_code == 200, added.json()
    assert added.json()["lines"][0]["unit_price"] == "12.50"
    assert added.json()["lines"][0]["available"] == 5

    response = _checkout(client, "tok_visa", "saga-1")
    assert response.status_code == 201, response.json()

    order = Order.objects.get(pk=response.json()["id"])
    history = [change.to_status for change in order.status_changes.all()]
    assert order.status == OrderStatus.CONFIRMED, history
    assert history == ["pending", "stock_reserved", "confirmed"]
    assert order.amount_captured == order.total
    stock = Stock.objects.get(variant__sku="SAGA-MUG")
    assert (stock.on_hand, stock.reserved) == (3, 0)


def test_a_declined_card_holds_the_stock_until_the_payment_deadline(live_catalog):
    seed("SAGA-TEE", price="20.00", stock=1)
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": "SAGA-TEE", "quantity": 1}, format="json")

    response = _checkout(client, "tok_decline", "saga-2")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED  # the shopper may pay again
    stock = Stock.objects.get(variant__sku="SAGA-TEE")
    assert (stock.on_hand, stock.reserved) == (1, 1)

    orders_expire_stalled(now=order.payment_deadline)

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_deadline")
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (1, 0)


def test_a_refund_with_restock_puts_the_goods_back_on_the_shelf(live_catalog):
    seed("SAGA-CUP", price="8.00", stock=4)
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": "SAGA-CUP", "quantity": 3}, format="json")
    order = Order.objects.get(pk=_checkout(client, "tok_visa", "saga-3").json()["id"])
    assert order.status == OrderStatus.CONFIRMED
    assert Stock.objects.get(variant__sku="SAGA-CUP").on_hand == 1

    refund = order_refund_request(order=order, lines={"SAGA-CUP": 2}, restock=True, actor="staff:alice")

    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.COMPLETED
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    stock = Stock.objects.get(variant__sku="SAGA-CUP")
    assert (stock.on_hand, stock.reserved) == (3, 0)
    restock = StockAdjustment.objects.get(refund_id=refund.id)
    assert (restock.order_id, restock.delta, restock.actor) == (order.id, 2, "event:orders")


def test_a_returned_parcel_line_goes_back_on_the_shelf_once(live_catalog):
    seed("SAGA-JUG", price="9.00", stock=5)
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": "SAGA-JUG", "quantity": 3}, format="json")
    order = Order.objects.get(pk=_checkout(client, "tok_visa", "saga-4").json()["id"])
    assert order.status == OrderStatus.CONFIRMED
    shipment_create(order=order, carrier="DHL", tracking_number="J1", actor="staff:sam", lines={"SAGA-JUG": 2})
    shipment_create(order=order, carrier="DHL", tracking_number="J2", actor="staff:sam")
    assert Stock.objects.get(variant__sku="SAGA-JUG").on_hand == 2
    return_id = uuid.uuid4()

    for _ in range(2):  # the same return submitted twice
        recorded, _ = return_record(
            order=order,
            parcel=1,
            lines={"SAGA-JUG": 2},
            restock={"SAGA-JUG"},
            reason="dented",
            actor="staff:carla",
            refund=True,
            return_id=return_id,
        )

    stock = Stock.objects.get(variant__sku="SAGA-JUG")
    assert (stock.on_hand, stock.reserved) == (4, 0)
    [restock] = StockAdjustment.objects.filter(order_id=order.id)  # the return's; its refund restocks nothing
    assert (restock.refund_id, restock.delta, restock.reason) == (
        return_id,
        2,
        f"return {return_id} of order {order.number}",
    )
    recorded.refund.refresh_from_db()
    order.refresh_from_db()
    assert recorded.refund.status == Refund.Status.COMPLETED
    assert (order.status, order.amount_refunded) == (OrderStatus.PARTIALLY_REFUNDED, recorded.refund.amount)
