"""The shopper's orders: a paginated list whose query count does not grow, the detail with
history and payment status, and cancelling before shipping."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.orders.models import Order, OrderStatus, OrderStatusChange
from apps.orders.services.fulfilment import order_ship
from tests.assertions import assert_problem
from tests.orders import factories
from tests.orders.conftest import advance_to_confirmed, client_for, published

pytestmark = pytest.mark.django_db(databases="__all__")

ORDERS = "/api/v1/orders/"


def detail(order_id) -> str:
    return f"{ORDERS}{order_id}/"


def cancel(order_id) -> str:
    return f"{ORDERS}{order_id}/cancel/"


def _queries_for_list(client, count: int) -> int:
    # The shopper's first request also reads the token revocation table; later ones hit its cache.
    client.get(ORDERS, {"page_size": 1})
    with CaptureQueriesContext(connections["orders"]) as queries:
        response = client.get(ORDERS, {"page_size": count})
    assert response.status_code == 200
    assert len(response.json()["results"]) == count
    return len(queries)


def test_list_query_count_is_constant(shopper, shopper_client):
    for _ in range(10):
        factories.order(customer_id=shopper.id, lines=3)
    ten = _queries_for_list(shopper_client, 10)
    for _ in range(40):
        factories.order(customer_id=shopper.id, lines=3)

    fifty = _queries_for_list(shopper_client, 50)

    assert ten == fifty <= 2


def test_list_is_mine_only_newest_first_filterable_and_paginated(shopper, other_shopper, shopper_client):
    orders = [factories.order(customer_id=shopper.id) for _ in range(3)]
    factories.order(customer_id=other_shopper.id)
    shipped = factories.order(customer_id=shopper.id, status=OrderStatus.SHIPPED)

    body = shopper_client.get(ORDERS, {"page_size": 2}).json()
    assert [item["id"] for item in body["results"]] == [str(shipped.id), str(orders[2].id)]
    rest = shopper_client.get(body["next"]).json()
    assert [item["id"] for item in rest["results"]] == [str(orders[1].id), str(orders[0].id)]
    assert rest["next"] is None
    assert body["results"][0]["total"] == "52.90"

    filtered = shopper_client.get(ORDERS, {"status": "shipped"}).json()["results"]
    assert [item["id"] for item in filtered] == [str(shipped.id)]
    assert shopper_client.get(ORDERS, {"status": "lost"}).status_code == 400
    assert shopper_client.get(ORDERS, {"ordering": "total"}).status_code == 200
    assert client_for(None).get(ORDERS).status_code == 401


def test_detail_has_history_and_payment_status(place_order, shopper, shopper_client):
    order = advance_to_confirmed(place_order(shopper))

    body = shopper_client.get(detail(order.id)).json()

    assert body["status"] == "confirmed"
    assert body["payment_status"] == "captured"
    assert body["amount_captured"] == body["total"] == "35.88"
    assert [(c["from_status"], c["to_status"]) for c in body["status_history"]] == [
        ("", "pending"),
        ("pending", "stock_reserved"),
        ("stock_reserved", "confirmed"),
    ]
    assert "actor" not in body["status_history"][0]  # staff names stay in the admin


def test_someone_elses_order_is_404(place_order, shopper, other_shopper):
    order = place_order(shopper)
    other = client_for(other_shopper)

    for response in (other.get(detail(order.id)), other.post(cancel(order.id)), other.get(detail(uuid.uuid4()))):
        assert_problem(response, status=404, code="order_not_found")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.parametrize("paid", [False, True])
def test_shopper_cancels_before_shipping(place_order, shopper, shopper_client, paid):
    order = place_order(shopper)
    if paid:
        order = advance_to_confirmed(order)

    response = shopper_client.post(cancel(order.id))

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    change = OrderStatusChange.objects.filter(order=order).last()
    assert (change.to_status, change.reason, change.actor) == (
        "cancelled",
        "customer_request",
        f"customer:{shopper.id}",
    )
    assert published("order.cancelled", order)[0]["reason"] == "customer_request"
    assert len(published("refund.requested", order)) == (1 if paid else 0)
    # Twice is a conflict, not a second cancellation
    again = shopper_client.post(cancel(order.id))
    assert again.status_code == 409
    assert len(published("order.cancelled", order)) == 1


def test_no_cancel_after_shipping(place_order, shopper, shopper_client):
    order = advance_to_confirmed(place_order(shopper))
    order_ship(order=order, carrier="UPS", tracking_number="1Z", actor="staff:alice")
    history = OrderStatusChange.objects.filter(order=order).count()

    response = shopper_client.post(cancel(order.id))

    assert_problem(response, status=409, code="illegal_transition")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert OrderStatusChange.objects.filter(order=order).count() == history
    assert published("order.cancelled", order) == []
