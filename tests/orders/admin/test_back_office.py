"""The orders back office: CSV export of the orders the changelist shows (with its filters), and
the sales summary per day and per product from orders' own data."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.orders.conftest import advance_to_confirmed

pytestmark = pytest.mark.django_db(databases="__all__")

CHANGELIST = reverse("admin:orders_order_changelist")
EXPORT = reverse("admin:orders_order_export")


def _rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_has_the_orders_the_changelist_filter_shows(admin_client, place_order, shopper, other_shopper):
    confirmed = advance_to_confirmed(place_order(shopper, {"MUG-01": 2}))
    pending = place_order(other_shopper)

    everything = _rows(admin_client.get(EXPORT))
    only_confirmed = _rows(admin_client.get(EXPORT, {"status__exact": "confirmed"}))
    changelist = admin_client.get(CHANGELIST, {"status__exact": "confirmed"}).content.decode()

    assert {row["number"] for row in everything} == {confirmed.number, pending.number}
    assert [row["number"] for row in only_confirmed] == [confirmed.number]
    assert only_confirmed[0]["total"] == "35.88" and only_confirmed[0]["currency"] == "EUR"
    assert f"{EXPORT}?status__exact=confirmed" in changelist


def test_a_formula_in_a_cell_is_neutralised(admin_client, place_order, shopper):
    order = place_order(shopper)
    order.voucher_code = "=HYPERLINK(1)"
    order.save(update_fields=["voucher_code"])

    (row,) = _rows(admin_client.get(EXPORT))

    assert row["voucher_code"] == "'=HYPERLINK(1)"


def test_the_sales_summary_counts_paid_orders_per_day_and_per_product(admin_client, place_order, shopper):
    advance_to_confirmed(place_order(shopper, {"MUG-01": 2}, key="a"))
    advance_to_confirmed(place_order(shopper, {"MUG-01": 1, "TEE-RED-M": 1}, key="b"))
    place_order(shopper, {"TEE-RED-M": 5}, key="unpaid")

    page = admin_client.get(reverse("admin:orders_order_sales")).content.decode()

    by_day = page[page.index('id="sales-by-day"') : page.index('id="sales-by-product"')]
    by_product = page[page.index('id="sales-by-product"') :]
    assert "<td>2</td>" in by_day  # two paid orders today
    assert "<td>MUG-01</td>" in by_product and "<td>3</td>" in by_product
    assert "<td>TEE-RED-M</td>" in by_product and "<td>5</td>" not in by_product


def test_the_sales_summary_needs_the_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", "n@example.com", "pw-nobody-123", is_staff=True)
    client.force_login(user)

    assert client.get(reverse("admin:orders_order_sales")).status_code == 403
    assert client.get(EXPORT).status_code == 403
