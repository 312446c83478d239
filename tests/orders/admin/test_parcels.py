"""Fulfilment in parcels in the orders admin: shipping a parcel of chosen lines and quantities needs
the ship permission; a parcel with too many units is refused with a message and changes nothing;
the order page lists its parcels with tracking links; closing the unshipped rest refunds it (with
capture at confirmation) and needs the same permission. The shopper's order shows the parcels."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from apps.orders.models import OrderStatus
from tests.orders.conftest import advance_to_confirmed, client_for, published

pytestmark = pytest.mark.django_db(databases="__all__")

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def confirmed(place_order, shopper):
    return advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1}))


def _staff(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("cs", "cs@example.com", "pw-cs-12345", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _parcel(client: Client, order, **fields):
    data = {"carrier": "DHL", "tracking_number": "JD0001", "line_MUG-01": "2", "line_TEE-RED-M": "0", **fields}
    return client.post(reverse("admin:orders_order_parcel", args=[order.pk]), data)


def test_shipping_a_parcel_needs_the_ship_permission(confirmed):
    staff = _staff("view_order", "change_order")

    form = staff.get(reverse("admin:orders_order_parcel", args=[confirmed.pk]))
    posted = _parcel(staff, confirmed)
    page = staff.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()
    listing = staff.get(CHANGELIST).content.decode()

    assert (form.status_code, posted.status_code) == (403, 403)
    assert "Ship a parcel" not in page
    assert 'value="mark_shipped"' not in listing and 'value="close_unshipped"' not in listing
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.shipments.count()) == (OrderStatus.CONFIRMED, 0)


def test_staff_ship_an_order_in_two_parcels(confirmed):
    staff = _staff("view_order", "change_order", "ship_order")
    assert "Ship a parcel" in staff.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    first = _parcel(staff, confirmed)
    confirmed.refresh_from_db()
    assert first.status_code == 302
    assert confirmed.status == OrderStatus.PARTIALLY_SHIPPED

    second = _parcel(
        staff,
        confirmed,
        carrier="other",
        other_carrier="Cargo Bike Co",
        tracking_number="CB-7",
        **{"line_TEE-RED-M": "1"},
    )
    confirmed.refresh_from_db()
    assert second.status_code == 302
    assert confirmed.status == OrderStatus.SHIPPED
    parcels = list(confirmed.shipments.order_by("number"))
    assert [(p.number, p.carrier, p.tracking_number) for p in parcels] == [
        (1, "DHL", "JD0001"),
        (2, "Cargo Bike Co", "CB-7"),
    ]
    assert parcels[0].tracking_url.startswith("https://www.dhl.com/") and parcels[1].tracking_url == ""
    assert sum(p.amount for p in parcels) == confirmed.total
    assert [n["parcel_number"] for n in published("order.shipped", confirmed)] == [1, 2]
    page = staff.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()
    assert "Parcels" in page and f'href="{parcels[0].tracking_url}"' in page


def test_a_parcel_with_more_units_than_are_left_is_refused_with_a_message(admin_client, confirmed):
    response = _parcel(admin_client, confirmed, **{"line_MUG-01": "3"})

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 2" in response.content.decode()
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.shipments.count()) == (OrderStatus.CONFIRMED, 0)
    assert published("order.shipped", confirmed) == []


def test_an_empty_parcel_is_refused(admin_client, confirmed):
    response = _parcel(admin_client, confirmed, **{"line_MUG-01": "0"})

    assert "Put at least one unit in the parcel." in response.content.decode()
    assert confirmed.shipments.count() == 0


def test_closing_the_unshipped_rest_refunds_it_with_capture_at_confirmation(confirmed):
    staff = _staff("view_order", "change_order", "ship_order")
    _parcel(staff, confirmed)

    staff.post(CHANGELIST, {"action": "close_unshipped", ACTION_CHECKBOX_NAME: [str(confirmed.pk)]})

    confirmed.refresh_from_db()
    assert confirmed.status == OrderStatus.SHIPPED
    [refund] = published("refund.requested", confirmed)
    tee = confirmed.lines.get(sku="TEE-RED-M")
    assert (Decimal(refund["amount"]), refund["restock"]) == (tee.total, [{"sku": "TEE-RED-M", "quantity": 1}])


def test_the_shoppers_order_lists_its_parcels_with_tracking(admin_client, confirmed, shopper):
    _parcel(admin_client, confirmed)

    body = client_for(shopper).get(f"/api/v1/orders/{confirmed.pk}/").json()

    assert body["status"] == "partially_shipped"
    [parcel] = body["shipments"]
    assert (parcel["number"], parcel["carrier"], parcel["tracking_number"]) == (1, "DHL", "JD0001")
    assert parcel["tracking_url"].endswith("JD0001") and parcel["lines"] == [
        {"sku": "MUG-01", "quantity": 2, "quantity_returned": 0}
    ]
    assert {line["sku"]: line["quantity_shipped"] for line in body["lines"]} == {"MUG-01": 2, "TEE-RED-M": 0}
