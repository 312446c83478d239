"""Concurrent orders for the last units of a SKU: exactly the available quantity is granted, and
orders locking the same SKUs in different line orders do not deadlock (PostgreSQL, real
transactions, one connection per thread)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from apps.catalog.models import Reservation, Stock
from apps.catalog.services import reservations
from apps.core.db import atomic
from tests.catalog import factories

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

THREADS = 12


def _run_concurrently(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=10)
            return call()
        finally:
            connections.close_all()  # this thread's connections; the test database is dropped later

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result(timeout=60) for future in [pool.submit(run, call) for call in calls]]


def test_concurrent_orders_for_the_last_units_never_oversell():
    factories.variant(sku="LAST", on_hand=5)

    outcomes = _run_concurrently(
        [lambda: reservations.stock_reserve(order_id=uuid.uuid4(), lines=[("LAST", 1)]) for _ in range(THREADS)]
    )

    granted = [outcome for outcome in outcomes if outcome.status == "reserved"]
    assert len(granted) == 5
    assert len(outcomes) - len(granted) == THREADS - 5
    stock = Stock.objects.get(variant__sku="LAST")
    assert (stock.on_hand, stock.reserved) == (5, 5)
    assert Reservation.objects.filter(status="reserved").count() == 5


def test_orders_naming_the_same_skus_in_opposite_orders_do_not_deadlock():
    factories.variant(sku="A", on_hand=100)
    factories.variant(sku="B", on_hand=100)
    orders = [[("A", 1), ("B", 1)] if index % 2 else [("B", 1), ("A", 1)] for index in range(THREADS)]

    outcomes = _run_concurrently(
        [lambda lines=lines: reservations.stock_reserve(order_id=uuid.uuid4(), lines=lines) for lines in orders]
    )

    assert all(outcome.status == "reserved" for outcome in outcomes)
    assert Stock.objects.get(variant__sku="A").reserved == THREADS
    assert Stock.objects.get(variant__sku="B").reserved == THREADS


def test_a_duplicate_order_created_delivered_concurrently_reserves_once():
    factories.variant(sku="A", on_hand=100)
    order_id = uuid.uuid4()

    def reserve():
        try:
            return reservations.stock_reserve(order_id=order_id, lines=[("A", 1)])
        except Exception as error:  # the loser of the unique-key race fails and is retried by the bus
            return error

    outcomes = _run_concurrently([reserve for _ in range(4)])

    assert len([outcome for outcome in outcomes if getattr(outcome, "status", None) == "reserved"]) == 1
    assert Stock.objects.get(variant__sku="A").reserved == 1


def test_a_cancellation_waiting_on_the_reservation_being_written_releases_it_once_that_commits():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    written, releasing = threading.Event(), threading.Event()

    def reserve():
        with atomic("catalog"):
            outcome = reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])
            written.set()
            releasing.wait(timeout=10)
            time.sleep(0.5)  # the release meanwhile waits on the order's key (or, if slower, comes after)
        return outcome.status

    def release():
        written.wait(timeout=10)
        releasing.set()
        return reservations.stock_release(order_id=order_id)

    assert _run_concurrently([reserve, release]) == ["reserved", True]
    stock = Stock.objects.get(variant__sku="A")
    assert (stock.on_hand, stock.reserved) == (5, 0)
    assert Reservation.objects.get(order_id=order_id).status == "released"
