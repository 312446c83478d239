"""What catalog's share of every order costs its database: the round trips of each saga handler run
(BEGIN to COMMIT, the inbox and outbox rows included) and of the live price lookup, whatever the
number of lines (docs/benchmarks.md, catalog's share of an order)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Product, Reservation, ReservationLine, Stock
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver
from apps.core.services import db_alias
from tests.catalog import factories
from tests.catalog.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def _deliver_counted(event_type: str, payload: dict) -> list[str]:
    envelope = Envelope(type=event_type, producer="orders", payload=payload, trace_id="trace-1")
    with CaptureQueriesContext(connections[db_alias("catalog")]) as queries:
        assert deliver("catalog", envelope) is True
    return [query["sql"] for query in queries.captured_queries]


def _created(order_id: str, lines: list[tuple[str, int]]) -> list[str]:
    payload = {
        "order_id": order_id,
        "order_number": "SO-1",
        "customer_id": str(uuid.uuid4()),
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
    }
    return _deliver_counted("order.created", payload)


def _listing_rewritten(queries: list[str]) -> bool:
    return any(sql.startswith('UPDATE "catalog_product"') for sql in queries)


def _order_id_only(event_type: str, order_id: str) -> list[str]:
    return _deliver_counted(event_type, {"order_id": order_id, "order_number": "SO-1", "customer_id": "c", "lines": []})


@pytest.mark.parametrize("line_count", [1, 3])
def test_reserving_and_committing_an_order_take_eight_and_six_round_trips_whatever_its_lines(line_count):
    variants = [factories.variant(on_hand=50) for _ in range(line_count)]
    order_id = str(uuid.uuid4())

    created = _created(order_id, [(variant.sku, 2) for variant in variants])
    # BEGIN, the inbox row, the stock rows locked, the reservation, the stock, its lines, the
    # outbox row, COMMIT. The code before this took 16 for one line, one more per further line.
    assert len(created) == 8, created
    confirmed = _order_id_only("order.confirmed", order_id)
    # BEGIN, the inbox row, the reservation claimed, its stock rows locked, the stock, COMMIT (14 before).
    assert len(confirmed) == 6, confirmed

    assert set(Stock.objects.values_list("on_hand", "reserved")) == {(48, 0)}
    assert Reservation.objects.get(order_id=order_id).status == "committed"
    assert ReservationLine.objects.count() == line_count
    assert events("stock.reserved") == [
        {"order_id": order_id, "lines": [{"sku": variant.sku, "quantity": 2} for variant in variants]}
    ]


def test_a_release_of_units_that_leave_the_sku_in_stock_does_not_rewrite_the_listing():
    variant = factories.variant(on_hand=50)
    order_id = str(uuid.uuid4())
    _created(order_id, [(variant.sku, 2)])

    released = _order_id_only("order.cancelled", order_id)

    # BEGIN, the inbox row, the reservation moved, its stock rows locked, the stock, COMMIT.
    assert len(released) == 6, released
    assert not _listing_rewritten(released)
    assert (Stock.objects.get().reserved, Product.objects.get().in_stock) == (0, True)


def test_reserving_the_last_units_and_releasing_them_rewrite_the_listing_both_ways():
    variant = factories.variant(on_hand=2)
    order_id = str(uuid.uuid4())

    assert _listing_rewritten(_created(order_id, [(variant.sku, 2)]))
    assert Product.objects.get().in_stock is False
    assert _listing_rewritten(_order_id_only("order.cancelled", order_id))
    assert Product.objects.get().in_stock is True


def test_a_rejected_order_takes_six_round_trips_and_changes_no_stock():
    variant = factories.variant(on_hand=1)
    order_id = str(uuid.uuid4())

    rejected = _created(order_id, [(variant.sku, 2), ("GHOST", 1)])

    # BEGIN, the inbox row, the stock rows locked, the reservation (rejected), the outbox row, COMMIT.
    assert len(rejected) == 6, rejected
    assert (Stock.objects.get().reserved, Reservation.objects.get().status) == (0, "rejected")
    assert events("stock.rejected") == [
        {
            "order_id": order_id,
            "short": [
                {"sku": "GHOST", "requested": 1, "available": 0},
                {"sku": variant.sku, "requested": 2, "available": 1},
            ],
        }
    ]
