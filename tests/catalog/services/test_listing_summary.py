"""The product list reads a per-product summary (cheapest price, stock, first image); every write
path keeps it current: reservations, stock adjustments, imports, and the admin (tested there)."""

from __future__ import annotations

import uuid

import pytest

from apps.catalog.models import Product
from apps.catalog.services import reservations, stock
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def _summary(product: Product) -> tuple:
    product.refresh_from_db()
    return (str(product.price_from) if product.price_from is not None else None, product.in_stock)


def test_reserving_the_last_units_takes_the_product_out_of_stock_and_a_release_puts_it_back():
    product = factories.product()
    factories.variant(product=product, sku="LAST", price="12.00", on_hand=2)
    order_id = uuid.uuid4()

    reservations.stock_reserve(order_id=order_id, lines=[("LAST", 2)])
    assert _summary(product) == ("12.00", False)

    reservations.stock_release(order_id=order_id)
    assert _summary(product) == ("12.00", True)


def test_committing_and_adjusting_stock_update_the_summary():
    product = factories.product()
    factories.variant(product=product, sku="A", on_hand=1)
    order_id = uuid.uuid4()
    reservations.stock_reserve(order_id=order_id, lines=[("A", 1)])
    reservations.stock_commit(order_id=order_id)
    assert _summary(product)[1] is False

    stock.stock_adjust(sku="A", delta=3, reason="delivery", actor="alice")
    assert _summary(product)[1] is True


def test_the_cheapest_active_variant_sets_the_price():
    product = factories.product()
    factories.variant(product=product, price="30.00")
    factories.variant(product=product, price="5.00", active=False)
    factories.variant(product=product, price="20.00")

    assert _summary(product)[0] == "20.00"


def test_a_product_whose_variants_are_all_inactive_is_not_listed(api_client):
    product = factories.product(slug="ghost")
    factories.variant(product=product, active=False)

    assert _summary(product) == (None, False)
    assert api_client.get("/api/v1/catalog/products/").json()["results"] == []
