"""Stock adjustments: audited, and never below zero or below what orders reserved."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from apps.catalog.models import Stock, StockAdjustment, Variant
from apps.catalog.services import stock
from apps.core.exceptions import NotFound, ValidationFailed
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_adjusting_stock_changes_on_hand_and_keeps_an_audit_row():
    variant = factories.variant(sku="MUG-1", on_hand=5)

    adjustment = stock.stock_adjust(sku="MUG-1", delta=-2, reason="broken in the warehouse", actor="alice")

    assert Stock.objects.get(variant=variant).on_hand == 3
    row = StockAdjustment.objects.get()
    assert row == adjustment
    assert (row.sku, row.delta, row.on_hand_after, row.reason, row.actor) == (
        "MUG-1",
        -2,
        3,
        "broken in the warehouse",
        "alice",
    )
    assert row.created_at is not None


@pytest.mark.parametrize(("on_hand", "reserved", "delta"), [(2, 0, -3), (5, 4, -2)])
def test_stock_cannot_go_below_zero_or_below_reservations(on_hand, reserved, delta):
    factories.variant(sku="MUG-1", on_hand=on_hand, reserved=reserved)

    with pytest.raises(ValidationFailed) as caught:
        stock.stock_adjust(sku="MUG-1", delta=delta, reason="count", actor="alice")

    assert caught.value.get_codes() == "negative_stock"
    assert "delta" in caught.value.extra["errors"]
    assert Stock.objects.get().on_hand == on_hand
    assert not StockAdjustment.objects.exists()


def test_zero_delta_blank_reason_and_unknown_sku_are_refused():
    factories.variant(sku="MUG-1")

    with pytest.raises(ValidationFailed) as caught:
        stock.stock_adjust(sku="MUG-1", delta=0, reason=" ", actor="alice")
    assert set(caught.value.extra["errors"]) == {"delta", "reason"}
    with pytest.raises(NotFound):
        stock.stock_adjust(sku="NOPE", delta=1, reason="found it", actor="alice")


@pytest.mark.parametrize(
    "fields",
    [{"on_hand": -1}, {"reserved": -1}, {"on_hand": 1, "reserved": 2}],
)
def test_the_database_refuses_negative_stock_whatever_writes_it(fields):
    variant = factories.variant()

    with pytest.raises(IntegrityError):
        Stock.objects.filter(variant=variant).update(**fields)


def test_the_database_refuses_a_negative_price():
    variant = factories.variant()

    with pytest.raises(IntegrityError):
        Variant.objects.filter(pk=variant.pk).update(price=-1)
