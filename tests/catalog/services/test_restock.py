"""Refunded goods back on the shelf (refund.requested restock lines): only what the order's
committed reservation took, less earlier restocks; once per refund, also when deliveries race."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connections, transaction

from apps.catalog.models import Product, Stock, StockAdjustment
from apps.catalog.services import reservations, restock
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def _on_hand(sku: str) -> int:
    return Stock.objects.get(variant__sku=sku).on_hand


def _committed_order(lines: list[tuple[str, int]]) -> uuid.UUID:
    order_id = uuid.uuid4()
    assert reservations.stock_reserve(order_id=order_id, lines=lines).status == "reserved"
    assert reservations.stock_commit(order_id=order_id) is True
    return order_id


def _restock(order_id: uuid.UUID, lines: list[tuple[str, int]], refund_id: uuid.UUID | None = None) -> bool:
    return restock.stock_restock(
        order_id=order_id, order_number="SO-7", refund_id=refund_id or uuid.uuid4(), lines=lines
    )


def test_restock_after_commit_puts_units_back_with_an_audit_row_per_sku():
    factories.variant(sku="A", on_hand=5)
    last = factories.variant(sku="B", on_hand=1)
    order_id = _committed_order([("A", 2), ("B", 1)])
    assert Product.objects.get(pk=last.product_id).in_stock is False
    refund_id = uuid.uuid4()

    assert _restock(order_id, [("B", 1), ("A", 1)], refund_id) is True

    assert (_on_hand("A"), _on_hand("B")) == (4, 1)
    assert Product.objects.get(pk=last.product_id).in_stock is True  # the listing summary follows
    rows = list(StockAdjustment.objects.order_by("sku").values("sku", "delta", "on_hand_after", "actor", "order_id"))
    assert rows == [
        {"sku": "A", "delta": 1, "on_hand_after": 4, "actor": "event:orders", "order_id": order_id},
        {"sku": "B", "delta": 1, "on_hand_after": 1, "actor": "event:orders", "order_id": order_id},
    ]
    assert {row.refund_id for row in StockAdjustment.objects.all()} == {refund_id}
    assert StockAdjustment.objects.first().reason == f"refund {refund_id} of order SO-7"


def test_the_same_refund_twice_restocks_once():
    factories.variant(sku="A", on_hand=5)
    order_id = _committed_order([("A", 2)])
    refund_id = uuid.uuid4()

    assert _restock(order_id, [("A", 1)], refund_id) is True
    assert _restock(order_id, [("A", 1)], refund_id) is False

    assert _on_hand("A") == 4
    assert StockAdjustment.objects.count() == 1


def test_more_than_committed_is_capped_across_refunds(caplog):
    factories.variant(sku="A", on_hand=5)
    order_id = _committed_order([("A", 3)])
    assert _restock(order_id, [("A", 2)]) is True

    with caplog.at_level(logging.WARNING, logger="apps.catalog.services.restock"):
        assert _restock(order_id, [("A", 5)]) is True  # 3 committed, 2 restocked before: 1 more
        assert _restock(order_id, [("A", 1)]) is False  # nothing left to come back

    assert _on_hand("A") == 5
    assert list(StockAdjustment.objects.order_by("id").values_list("delta", flat=True)) == [2, 1]
    assert len([record for record in caplog.records if "asks to restock 5 x A" in record.getMessage()]) == 1


def test_a_sku_the_order_did_not_commit_is_skipped_and_the_rest_restocked(caplog):
    factories.variant(sku="A", on_hand=5)
    factories.variant(sku="OTHER", on_hand=5)
    order_id = _committed_order([("A", 2)])

    with caplog.at_level(logging.WARNING, logger="apps.catalog.services.restock"):
        assert _restock(order_id, [("A", 1), ("OTHER", 1), ("GHOST", 1)]) is True

    assert (_on_hand("A"), _on_hand("OTHER")) == (4, 5)
    assert list(StockAdjustment.objects.values_list("sku", flat=True)) == ["A"]
    assert "asks to restock 1 x OTHER; 0 restocked" in caplog.text
    assert "asks to restock 1 x GHOST; 0 restocked" in caplog.text


def test_a_refund_that_overtakes_the_commit_is_refused_for_redelivery():
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])

    with pytest.raises(restock.RestockBeforeCommit):
        _restock(order_id, [("A", 2)])

    assert reservations.stock_commit(order_id=order_id) is True  # order.confirmed lands
    assert _restock(order_id, [("A", 2)]) is True  # the redelivery restocks
    assert _on_hand("A") == 5


@pytest.mark.parametrize("step", ["released", "unknown"])
def test_without_a_committed_reservation_nothing_is_restocked(caplog, step):
    factories.variant(sku="A", on_hand=5)
    order_id = uuid.uuid4()
    if step != "unknown":
        reservations.stock_reserve(order_id=order_id, lines=[("A", 2)])
    if step == "released":
        reservations.stock_release(order_id=order_id)

    with caplog.at_level(logging.WARNING, logger="apps.catalog.services.restock"):
        assert _restock(order_id, [("A", 2)]) is False

    assert _on_hand("A") == 5
    assert not StockAdjustment.objects.exists()
    assert "committed no stock" in caplog.text


def test_the_database_refuses_a_second_row_for_the_same_refund_and_sku():
    variant = factories.variant(sku="A", on_hand=5)
    row = {"variant": variant, "sku": "A", "delta": 1, "on_hand_after": 6, "reason": "refund", "actor": "event:orders"}
    refund_id, order_id = uuid.uuid4(), uuid.uuid4()
    StockAdjustment.objects.create(**row, order_id=order_id, refund_id=refund_id)
    # Manual adjustments (no refund) never collide.
    StockAdjustment.objects.create(**row)
    StockAdjustment.objects.create(**row)

    with pytest.raises(IntegrityError), transaction.atomic(using="catalog"):
        StockAdjustment.objects.create(**row, order_id=order_id, refund_id=refund_id)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_refund_delivered_twice_concurrently_restocks_once():
    factories.variant(sku="A", on_hand=10)
    factories.variant(sku="B", on_hand=10)
    order_id = _committed_order([("A", 3), ("B", 3)])
    refund_id = uuid.uuid4()
    barrier = threading.Barrier(4)

    def deliver():
        try:
            barrier.wait(timeout=10)
            return _restock(order_id, [("B", 2), ("A", 2)], refund_id)
        except IntegrityError as error:  # the loser of a unique-key race fails and is retried by the bus
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = [future.result(timeout=60) for future in [pool.submit(deliver) for _ in range(4)]]

    assert outcomes.count(True) == 1
    assert (_on_hand("A"), _on_hand("B")) == (9, 9)
    assert StockAdjustment.objects.filter(refund_id=refund_id).count() == 2
