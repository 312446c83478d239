"""Returns in the orders admin: recording one needs orders.record_return; the form of a parcel leads
to a confirmation naming what comes back, what goes back in stock and the refund (offered only to
staff who may refund), and nothing is recorded before it is confirmed; bad input is refused with a
message and changes nothing; the same form sent twice records once; the order page shows its
returns (and the parcels what came back) with flat query counts; the shopper sees what came back."""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.orders.models import ParcelReturn, Refund, ShipmentLine
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.shipments import shipment_create
from tests.orders.conftest import advance_to_confirmed, client_for, published

pytestmark = pytest.mark.django_db(databases="__all__")

RETURNS = ("view_order", "change_order", "record_return")


def _ship(order, parcels=({"MUG-01": 2}, {"TEE-RED-M": 1})):
    for number, lines in enumerate(parcels, start=1):
        shipment_create(order=order, carrier="DHL", tracking_number=f"JD{number}", actor="staff:sam", lines=lines)
    order.refresh_from_db()
    return order


@pytest.fixture
def shipped(place_order, shopper):
    # Two mugs (12.50 each, 20 % tax: 15.00 back per mug) in parcel 1, the tee in parcel 2.
    return _ship(advance_to_confirmed(place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1})))


def _staff(*codenames: str, username: str = "carla") -> Client:
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw-12345-x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def _url(order, parcel: int = 1) -> str:
    return reverse("admin:orders_order_return", args=[order.pk, parcel])


def _page(client: Client, order) -> str:
    return client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()


def _form(client: Client, order, parcel: int = 1, **fields: str) -> dict[str, str]:
    """The form as the page gives it (with its return id), filled with `fields`."""
    form = client.get(_url(order, parcel)).context["form"]
    return {"return_id": str(form.initial["return_id"]), "reason": "arrived chipped", **fields}


def _returned(order) -> dict[str, int]:
    return dict(ShipmentLine.objects.filter(shipment__order=order).values_list("sku", "quantity_returned"))


def test_recording_a_return_needs_the_permission(shipped):
    staff = _staff("view_order", "change_order", "ship_order", "refund_order")

    form = staff.get(_url(shipped))
    posted = staff.post(_url(shipped), {"return_id": "5f0c3d0e-1b7a-4c4e-9a51-0c8f7a1e2b3c", "line_MUG-01": "1"})

    assert (form.status_code, posted.status_code) == (403, 403)
    assert "Record a return" not in _page(staff, shipped)
    assert not ParcelReturn.objects.exists()


def test_staff_record_a_return_once_they_confirm_it(shipped):
    staff = _staff(*RETURNS)
    page = _page(staff, shipped)
    assert f'href="{_url(shipped, 1)}"' in page and f'href="{_url(shipped, 2)}"' in page
    form = staff.get(_url(shipped)).content.decode()
    assert 'name="line_MUG-01"' in form and 'name="restock_MUG-01"' in form
    assert 'name="line_TEE-RED-M"' not in form  # shipped in parcel 2
    assert 'name="refund"' not in form  # no refund permission: no refund offered
    data = _form(staff, shipped, **{"line_MUG-01": "1", "restock_MUG-01": "on"})

    asked = staff.post(_url(shipped), data)

    text = asked.content.decode()
    assert asked.status_code == 200
    assert "Record the return of these goods from parcel 1" in text
    assert "MUG-01 x 1: goes back in stock" in text and "No refund." in text
    assert not ParcelReturn.objects.exists() and published("order.lines_returned") == []

    done = staff.post(_url(shipped), {**data, "confirm": asked.context["confirm"]}, follow=True)

    recorded = ParcelReturn.objects.get()
    assert (recorded.number, recorded.reason, recorded.recorded_by) == (1, "arrived chipped", "staff:carla")
    assert done.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[shipped.pk])
    assert f"{shipped.number}: return 1 of parcel 1 recorded." in done.content.decode()
    assert _returned(shipped) == {"MUG-01": 1, "TEE-RED-M": 0}
    [event] = published("order.lines_returned", shipped)
    assert event["restock"] == [{"sku": "MUG-01", "quantity": 1}]
    after = _page(staff, shipped)
    assert "Returns" in after and "1 x MUG-01 (back in stock)" in after and "arrived chipped" in after
    assert "2 x MUG-01 (1 returned)" in after


def test_a_line_left_unticked_comes_back_without_going_back_in_stock(shipped):
    staff = _staff(*RETURNS)
    data = _form(staff, shipped, **{"line_MUG-01": "2"})  # restock_MUG-01 not sent: unticked

    confirm = staff.post(_url(shipped), data).context["confirm"]
    staff.post(_url(shipped), {**data, "confirm": confirm})

    [event] = published("order.lines_returned", shipped)
    assert (event["lines"], event["restock"]) == ([{"sku": "MUG-01", "quantity": 2}], [])
    assert "2 x MUG-01 (not restocked)" in _page(staff, shipped)


def test_staff_who_may_refund_refund_the_returned_units_share_with_the_return(shipped):
    staff = _staff(*RETURNS, "refund_order")
    data = _form(staff, shipped, **{"line_MUG-01": "1", "restock_MUG-01": "on", "refund": "on"})

    asked = staff.post(_url(shipped), data)

    assert asked.context["confirm"] == "15.00 EUR"
    assert "A refund of <strong>15.00 EUR</strong> to the shopper." in asked.content.decode()
    assert not Refund.objects.exists()

    done = staff.post(_url(shipped), {**data, "confirm": "15.00 EUR"}, follow=True)

    refund = ParcelReturn.objects.get().refund
    assert (refund.amount, refund.lines, refund.restock) == (
        Decimal("15.00"),
        [{"sku": "MUG-01", "quantity": 1}],
        False,
    )
    assert "return 1 of parcel 1 recorded, refund of 15.00 EUR requested." in done.content.decode()
    assert published("refund.requested", shipped)[0]["restock"] == []  # the return restocks, not the refund too


def test_a_refund_asked_without_the_refund_permission_is_not_made(shipped):
    staff = _staff(*RETURNS)
    data = _form(staff, shipped, **{"line_MUG-01": "1", "refund": "on"})

    confirm = staff.post(_url(shipped), data).context["confirm"]
    staff.post(_url(shipped), {**data, "confirm": confirm})

    assert ParcelReturn.objects.get().refund is None
    assert not Refund.objects.exists()


def test_a_confirmation_for_a_refund_that_changed_since_is_asked_again(shipped):
    staff = _staff(*RETURNS, "refund_order")
    data = _form(staff, shipped, **{"line_MUG-01": "1", "refund": "on"})

    again = staff.post(_url(shipped), {**data, "confirm": "14.00 EUR"})

    assert again.status_code == 200 and again.context["changed"] is True
    assert "The refund changed since you asked" in again.content.decode()
    assert not ParcelReturn.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"line_MUG-01": "3"}, "Ensure this value is less than or equal to 2."),
        ({"line_MUG-01": "0"}, "Return at least one unit."),
        ({"line_MUG-01": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"line_TEE-RED-M": "1"}, "Return at least one unit."),  # a line of another parcel is no field here
        ({"line_MUG-01": "1", "reason": ""}, "This field is required."),
        ({"line_MUG-01": "1", "return_id": "not-a-uuid"}, "Enter a valid UUID."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_changes_nothing(shipped, fields, message):
    staff = _staff(*RETURNS)

    response = staff.post(_url(shipped), _form(staff, shipped, **fields))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ParcelReturn.objects.exists() and set(_returned(shipped).values()) == {0}
    assert published("order.lines_returned") == []


def test_a_return_whose_refund_the_refund_rules_refuse_shows_why_and_changes_nothing(shipped):
    order_refund_request(order=shipped, lines={"MUG-01": 2}, actor="staff:alice")
    staff = _staff(*RETURNS, "refund_order")
    data = _form(staff, shipped, **{"line_MUG-01": "1", "refund": "on"})

    response = staff.post(_url(shipped), {**data, "confirm": "15.00 EUR"})

    assert response.status_code == 200
    assert "Line &#x27;MUG-01&#x27; can be refunded 1 to 0 units." in response.content.decode()
    assert not ParcelReturn.objects.exists() and Refund.objects.count() == 1


def test_a_parcel_of_another_order_is_not_found(shipped, place_order, shopper):
    other = advance_to_confirmed(place_order(shopper, {"MUG-01": 1}))  # not shipped: no parcel 1
    staff = _staff(*RETURNS)

    assert staff.get(_url(other, 1)).status_code == 404
    assert staff.get(_url(shipped, 3)).status_code == 404


@pytest.mark.parametrize("units", ["1", "2"], ids=["some-units", "every-unit-of-the-line"])
def test_the_same_form_sent_twice_records_the_return_once(shipped, units):
    staff = _staff(*RETURNS, "refund_order")
    data = _form(staff, shipped, **{"line_MUG-01": units, "restock_MUG-01": "on", "refund": "on"})
    confirmed = {**data, "confirm": staff.post(_url(shipped), data).context["confirm"]}

    first = staff.post(_url(shipped), confirmed)
    second = staff.post(_url(shipped), confirmed, follow=True)

    assert first.status_code == 302
    assert f"{shipped.number}: return 1 was already recorded; nothing more was done." in second.content.decode()
    assert ParcelReturn.objects.count() == 1 and Refund.objects.count() == 1
    assert _returned(shipped)["MUG-01"] == int(units)
    assert len(published("order.lines_returned", shipped)) == 1


def _queries(client: Client, url: str) -> int:
    with ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
        assert client.get(url).status_code == 200
    return sum(len(capture) for capture in captured)


def test_the_order_page_with_parcels_and_returns_keeps_a_flat_query_count(place_order, shopper, other_shopper):
    staff = _staff(*RETURNS, "refund_order")
    one = _ship(advance_to_confirmed(place_order(shopper, {"MUG-01": 1})), parcels=({"MUG-01": 1},))
    _record(staff, one, 1, {"line_MUG-01": "1", "restock_MUG-01": "on", "refund": "on"})
    many = _ship(
        advance_to_confirmed(place_order(other_shopper, {"MUG-01": 2, "TEE-RED-M": 1, "POSTER-A2": 1})),
        parcels=({"MUG-01": 1, "TEE-RED-M": 1}, {"MUG-01": 1}, {"POSTER-A2": 1}),
    )
    _record(staff, many, 1, {"line_MUG-01": "1", "line_TEE-RED-M": "1", "refund": "on"})
    _record(staff, many, 2, {"line_MUG-01": "1", "restock_MUG-01": "on"})

    page = reverse("admin:orders_order_change", args=[one.pk])
    staff.get(page)  # shows (and so clears) the messages the returns above left in the session
    assert _queries(staff, reverse("admin:orders_order_change", args=[many.pk])) == _queries(staff, page)


def _record(staff: Client, order, parcel: int, fields: dict[str, str]) -> None:
    data = _form(staff, order, parcel, **fields)
    confirm = staff.post(_url(order, parcel), data).context["confirm"]
    assert staff.post(_url(order, parcel), {**data, "confirm": confirm}).status_code == 302


def test_the_shoppers_order_shows_what_came_back_from_each_parcel(shipped, shopper):
    _record(_staff(*RETURNS), shipped, 1, {"line_MUG-01": "1"})

    body = client_for(shopper).get(f"/api/v1/orders/{shipped.pk}/").json()

    assert [parcel["lines"] for parcel in body["shipments"]] == [
        [{"sku": "MUG-01", "quantity": 2, "quantity_returned": 1}],
        [{"sku": "TEE-RED-M", "quantity": 1, "quantity_returned": 0}],
    ]
