"""The stock side of the checkout saga: reserve all lines or none, release on cancel, commit on
confirm; each step idempotent per order."""

from __future__ import annotations

import uuid

import pytest

from apps.catalog.models import Reservation, Stock
from apps.catalog.services import reservations
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def _stock(sku: str) -> tuple[int, int]:
    stock = Stock.objects.get(variant__sku=sku)
    return stock.on_hand, stock.reserved


def test_reserves_every_line_and_publishes_stock_reserved():
    factories.variant(sku="A", on_hand=5)
    factories.variant(sku="B", on_hand=2)
    order_id = uuid.uuid4()

    outcome = reservations.stock_reserve(order_id=order_id, lines=[("B", 2), ("A", 1), ("A", 2)])

    assert outcome.status == "reserved"
    assert _stock("A") == (5, 3)
    assert _stock("B") == (2, 2)
    assert events("stock.reserved") == [
        {"order_id": str(order_id), "lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}]}
    ]
    assert Reservation.objects.get(order_id=order_id).lines.count() == 2


def test_a_short_line_rejects_the_whole_order_and_reserves_nothing():
    factories.variant(sku="A", on_hand=5)
    factories.variant(sku="B", on_hand=3, reserved=2)
    factories.variant(sku="OFF", on_hand=9, active=False)
    order_id = uuid.uuid4()

    outcome = reservations.stock_reserve(order_id=order_id, lines=[("A", 1), ("B", 2), ("GHOST", 1), ("OFF", 1)])

    assert outcome.status == "rejected"
    assert _stock("A") == (5, 0)
    assert events("stock.reserved") == []
    assert events("stock.rejected") == [
        {
            "order_id": str(order_id),
            "short": [
                {"sku": "B", "requested": 2, "available": 1},
                {"sku": "GHOST", "requested": 1, "available": 0},
                {"sku": "OFF", "requested": 1, "available": 0},
            ],
        }
    ]


def test_a_second_order_created_for_the_same_order_publishes_nothing_new():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 1)])

    again = reservations.stock_reserve(order_id=order_id, lines=[("A", 1)])

    assert again is None
    assert _stock("A") == (5, 1)
    assert len(events("stock.reserved")) == 1


def test_release_gives_units_back_once():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])

    assert reservations.stock_release(order_id=order_id) is True
    assert reservations.stock_release(order_id=order_id) is False
    assert _stock("A") == (5, 0)
    assert Reservation.objects.get(order_id=order_id).status == "released"


def test_commit_takes_units_off_the_shelf_once():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])

    assert reservations.stock_commit(order_id=order_id) is True
    assert reservations.stock_commit(order_id=order_id) is False
    assert reservations.stock_release(order_id=order_id) is False  # a late cancel cannot un-ship
    assert _stock("A") == (3, 0)


def test_a_cancel_before_the_reservation_stops_a_late_order_created():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()

    assert reservations.stock_release(order_id=order_id) is False
    assert reservations.stock_reserve(order_id=order_id, lines=[("A", 1)]) is None
    assert _stock("A") == (5, 0)


def test_commit_or_release_of_a_rejected_order_changes_nothing():
    factories.variant(sku="A", on_hand=1)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])

    assert reservations.stock_commit(order_id=order_id) is False
    assert reservations.stock_release(order_id=order_id) is False
    assert _stock("A") == (1, 0)
