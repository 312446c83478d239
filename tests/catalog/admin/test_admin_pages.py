"""Catalog admin pages as staff read them: the stock page titled by SKU without Save buttons,
and deleting a product that has stock history says why it cannot be deleted."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.catalog.models import Product
from tests.catalog import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_stock_page_is_titled_by_sku_and_has_no_save_buttons(staff_client):
    variant = factories.variant(sku="MUG-RED")

    page = staff_client.get(f"/admin/catalog/stock/{variant.pk}/change/").content.decode()

    assert "<h2>MUG-RED" in page or "MUG-RED</h2>" in page or "| MUG-RED" in page
    assert f"{variant.pk}: " not in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_deleting_a_product_with_stock_history_explains_why_not(staff_client):
    variant = factories.variant(sku="MUG-RED", on_hand=1)
    staff_client.post("/admin/catalog/stockadjustment/add/", {"sku": "MUG-RED", "delta": "2", "reason": "delivery"})

    page = staff_client.get(f"/admin/catalog/product/{variant.product_id}/delete/").content.decode()
    staff_client.post(f"/admin/catalog/product/{variant.product_id}/delete/", {"post": "yes"})

    assert "permission" not in page.lower()
    assert "MUG-RED +2 (delivery)" in page
    assert "unpublish it instead" in page
    assert Product.objects.filter(pk=variant.product_id).exists()


def test_a_product_without_history_can_be_deleted(staff_client):
    product = factories.product_with_variants(count=1)

    response = staff_client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()


def _queries(client, url: str) -> int:
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
        assert client.get(url).status_code == 200
    return sum(len(capture) for capture in captured)


@pytest.mark.parametrize("url", ["/admin/catalog/product/", "/admin/catalog/stock/", "/admin/catalog/category/"])
def test_catalog_changelists_keep_flat_query_counts(staff_client, url):
    parent = factories.category()
    factories.product_with_variants(count=2, category=factories.category(parent=parent))
    few = _queries(staff_client, url)
    for _ in range(6):
        factories.product_with_variants(count=2, category=factories.category(parent=parent))

    assert _queries(staff_client, url) == few


def test_the_low_stock_list_shows_active_variants_at_or_below_the_threshold(staff_client, settings):
    settings.CATALOG_LOW_STOCK_THRESHOLD = 3
    factories.variant(sku="LOW-1", on_hand=5, reserved=2)
    factories.variant(sku="OUT-1", on_hand=2, reserved=2)
    factories.variant(sku="PLENTY-1", on_hand=20)
    factories.variant(sku="RETIRED-1", on_hand=0, active=False)

    low = staff_client.get("/admin/catalog/stock/", {"level": "low"}).content.decode()
    out = staff_client.get("/admin/catalog/stock/", {"level": "out"}).content.decode()

    assert "LOW-1" in low and "OUT-1" in low
    assert "PLENTY-1" not in low and "RETIRED-1" not in low
    assert "OUT-1" in out and "LOW-1" not in out
