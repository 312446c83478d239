"""The orders admin as staff read it: money in the currency's minor units, the address as an
address, no empty history on save, a full refund only when confirmed, refund and cancel behind
their own permissions, the customer linked to users' admin, the shop's title and a real site link."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.orders.models import OrderStatus, Refund
from tests.orders.conftest import advance_to_confirmed

pytestmark = pytest.mark.django_db(databases="__all__")

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def confirmed(place_order, shopper):
    return advance_to_confirmed(place_order(shopper, {"MUG-01": 2}))  # total 35.88


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("cs", "cs@example.com", "pw-cs-12345", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_order_page_shows_money_in_minor_units_and_the_address_as_an_address(admin_client, confirmed):
    page = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    assert "35.8800" not in page and "12.5000" not in page
    assert "35.88 EUR" in page
    assert "12 St James&#x27;s Square" in page
    assert "&quot;line1&quot;" not in page and '"line1"' not in page


def test_a_tax_rate_is_shown_as_a_rate_not_as_money(admin_client, confirmed):
    page = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    assert f"{confirmed.tax_rate} EUR" not in page and "0.20 EUR" not in page


def test_staff_who_may_view_an_order_see_its_lines_history_refunds_and_notes(confirmed):
    # Given customer service with the order permissions only (none on lines, refunds or notes)
    staff = _staff("view_order")

    page = staff.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    for group in ("lines-group", "status_changes-group", "refunds-group", "notes-group"):
        assert f'id="{group}"' in page
    assert "MUG-01" in page


def test_the_order_page_has_no_save_buttons_and_a_post_writes_no_history(admin_client, confirmed):
    url = reverse("admin:orders_order_change", args=[confirmed.pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"_save": "Save"})

    assert 'name="_save"' not in page
    assert not LogEntry.objects.filter(object_id=str(confirmed.pk)).exists()


def test_a_refund_is_made_only_once_confirmed_and_an_empty_form_refunds_nothing(admin_client, confirmed):
    url = reverse("admin:orders_order_refund", args=[confirmed.pk])

    empty = admin_client.post(url, {})

    assert empty.status_code == 200
    assert "Tick “Refund everything still refundable”" in empty.content.decode()
    assert not Refund.objects.exists()

    asked = admin_client.post(url, {"refund_everything": "on"})

    assert asked.status_code == 200
    assert "Refund <strong>35.88 EUR</strong> of order" in asked.content.decode()
    assert not Refund.objects.exists()

    confirmed_full = admin_client.post(url, {"refund_everything": "True", "confirm": "35.88 EUR"})

    assert confirmed_full.status_code == 302
    assert str(Refund.objects.get().amount) == "35.8800"


def test_a_confirmation_for_an_amount_that_changed_since_is_asked_again(admin_client, confirmed):
    # Given staff who were shown "35.88 EUR" for everything, while someone else refunded 10.00
    url = reverse("admin:orders_order_refund", args=[confirmed.pk])
    admin_client.post(url, {"amount": "10.00"})
    admin_client.post(url, {"amount": "10.00", "confirm": "10.00 EUR"})

    # When they confirm the old amount
    again = admin_client.post(url, {"refund_everything": "True", "confirm": "35.88 EUR"})

    # Then they are asked again, for what is left, and nothing more was refunded
    assert again.status_code == 200
    page = again.content.decode()
    assert "The refundable amount changed" in page and "Refund <strong>25.88 EUR</strong>" in page
    assert [str(refund.amount) for refund in Refund.objects.all()] == ["10.0000"]


def test_refund_and_cancel_need_their_own_permissions(confirmed):
    # Given customer service who may view and change orders, but not refund or cancel them
    staff = _staff("view_order", "change_order")

    refund = staff.get(reverse("admin:orders_order_refund", args=[confirmed.pk]))
    listing = staff.get(CHANGELIST).content.decode()
    staff.post(CHANGELIST, {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [str(confirmed.pk)]})

    assert refund.status_code == 403
    assert 'value="refund_order"' not in listing and 'value="cancel_orders"' not in listing
    confirmed.refresh_from_db()
    assert confirmed.status == OrderStatus.CONFIRMED


def test_staff_with_the_refund_permission_may_refund(confirmed):
    staff = _staff("view_order", "change_order", "refund_order")

    response = staff.get(reverse("admin:orders_order_refund", args=[confirmed.pk]))

    assert response.status_code == 200


def test_the_customer_links_to_the_customer_in_users_admin(admin_client, confirmed):
    page = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    assert f'href="/admin/users/customer/{confirmed.customer_id}/change/"' in page


def test_the_admin_is_titled_by_the_shop_and_view_site_leads_to_the_shop(admin_client, settings):
    settings.SHOP_NAME = "Northwind Goods"
    settings.SHOP_FRONTEND_URL = "https://shop.example.com"

    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "Django site admin" not in page and "Django administration" not in page
    assert "<title>Site administration | Northwind Goods admin</title>" in page
    assert 'href="https://shop.example.com"' in page


def _queries(client: Client, url: str) -> int:
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
        assert client.get(url).status_code == 200
    return sum(len(capture) for capture in captured)


def test_the_changelist_and_the_order_page_keep_flat_query_counts(admin_client, place_order, shopper):
    # Given a few orders, then many more (and one with many lines)
    few = [advance_to_confirmed(place_order(shopper, {"MUG-01": 1}, key=f"few-{n}")) for n in range(2)]
    few_list = _queries(admin_client, CHANGELIST)
    few_page = _queries(admin_client, reverse("admin:orders_order_change", args=[few[0].pk]))
    for n in range(8):
        place_order(shopper, {"MUG-01": 1}, key=f"many-{n}")
    many_lines = advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1}, key="lines"))

    # Then the counts do not grow with them
    assert _queries(admin_client, CHANGELIST) == few_list
    assert _queries(admin_client, reverse("admin:orders_order_change", args=[many_lines.pk])) == few_page


def test_the_changelist_filters_by_customer(admin_client, confirmed, place_order, other_shopper):
    theirs = place_order(other_shopper)

    page = admin_client.get(CHANGELIST, {"customer_id": str(confirmed.customer_id)}).content.decode()

    assert confirmed.number in page and theirs.number not in page
