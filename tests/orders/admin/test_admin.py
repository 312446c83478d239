"""The orders admin: find orders, ship them through the intermediate form, cancel, refund; the
history is shown read-only and nothing is edited directly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from apps.orders.models import OrderStatus, Refund
from tests.orders.conftest import advance_to_confirmed, published

pytestmark = pytest.mark.django_db(databases="__all__")

CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def confirmed(place_order, shopper):
    return advance_to_confirmed(place_order(shopper, {"MUG-01": 2}))  # total 35.88


def test_changelist_filters_and_search(admin_client, confirmed, place_order, other_shopper):
    pending = place_order(other_shopper)

    assert admin_client.get(CHANGELIST).status_code == 200
    by_status = admin_client.get(CHANGELIST, {"status__exact": "confirmed"}).content.decode()
    assert confirmed.number in by_status and pending.number not in by_status
    by_number = admin_client.get(CHANGELIST, {"q": pending.number}).content.decode()
    assert pending.number in by_number and confirmed.number not in by_number
    by_email = admin_client.get(CHANGELIST, {"q": confirmed.email}).content.decode()
    assert confirmed.number in by_email and pending.number not in by_email
    assert admin_client.get(CHANGELIST, {"created_at__year": str(confirmed.created_at.year)}).status_code == 200


def test_change_page_shows_history_read_only(admin_client, confirmed):
    page = admin_client.get(reverse("admin:orders_order_change", args=[confirmed.pk])).content.decode()

    assert "Status history" in page
    assert "event:payments" in page
    assert 'name="status"' not in page  # not editable
    assert "pm_test_visa" not in page


def test_mark_shipped_through_the_intermediate_form(admin_client, confirmed):
    action = {"action": "mark_shipped", ACTION_CHECKBOX_NAME: [str(confirmed.pk)]}

    form = admin_client.post(CHANGELIST, action)
    assert form.status_code == 200
    assert "Tracking number" in form.content.decode()

    done = admin_client.post(
        CHANGELIST,
        {**action, "apply": "1", f"{confirmed.pk}-carrier": "DHL", f"{confirmed.pk}-tracking_number": "JD014600"},
        follow=True,
    )

    assert done.status_code == 200
    confirmed.refresh_from_db()
    assert confirmed.status == OrderStatus.SHIPPED
    assert (confirmed.carrier, confirmed.tracking_number) == ("DHL", "JD014600")
    assert confirmed.status_changes.last().actor == "staff:admin"
    assert published("order.shipped", confirmed)[0]["tracking_number"] == "JD014600"


def test_shipping_a_pending_order_is_refused_with_a_message(admin_client, place_order, shopper):
    pending = place_order(shopper)

    response = admin_client.post(
        CHANGELIST,
        {
            "action": "mark_shipped",
            ACTION_CHECKBOX_NAME: [str(pending.pk)],
            "apply": "1",
            f"{pending.pk}-carrier": "DHL",
            f"{pending.pk}-tracking_number": "X",
        },
        follow=True,
    )

    assert "cannot go from pending to shipped" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == OrderStatus.PENDING
    assert published("order.shipped") == []


def test_cancel_action(admin_client, confirmed):
    admin_client.post(CHANGELIST, {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [str(confirmed.pk)]})

    confirmed.refresh_from_db()
    assert confirmed.status == OrderStatus.CANCELLED
    assert Decimal(published("refund.requested", confirmed)[0]["amount"]) == Decimal("35.88")


def test_refund_form_refuses_too_much_and_accepts_a_line(admin_client, confirmed):
    url = reverse("admin:orders_order_refund", args=[confirmed.pk])
    # The refund action leads to the form
    redirect = admin_client.post(CHANGELIST, {"action": "refund_order", ACTION_CHECKBOX_NAME: [str(confirmed.pk)]})
    assert redirect.status_code == 302 and redirect["Location"] == url
    assert "35.88" in admin_client.get(url).content.decode()

    too_much = admin_client.post(url, {"amount": "40.00", "reason": "oops"})
    assert too_much.status_code == 200
    assert "can still be refunded" in too_much.content.decode()
    assert not Refund.objects.exists()
    assert published("refund.requested") == []

    one_line = {"line_MUG-01": "1", "restock": "on", "reason": "broken"}
    confirmation = admin_client.post(url, one_line)
    assert confirmation.status_code == 200
    assert "Refund <strong>15.00 EUR</strong>" in confirmation.content.decode()
    assert not Refund.objects.exists()

    done = admin_client.post(url, {**one_line, "confirm": "15.00 EUR"})
    assert done.status_code == 302
    refund = Refund.objects.get()
    assert refund.amount == Decimal("15.00")  # 12.50 + 20% tax
    assert refund.restock is True
    assert refund.requested_by == "staff:admin"
    assert published("refund.requested", confirmed)[0]["restock"] == [{"sku": "MUG-01", "quantity": 1}]
