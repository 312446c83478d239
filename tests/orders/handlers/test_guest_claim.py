"""Guest orders join an account once users reports the account proved their email
(user.email_verified): only unclaimed guest orders of exactly that address, once however often the
event arrives, and then they show in the account's order list. Registration alone claims nothing."""

from __future__ import annotations

import uuid

import pytest

from apps.core.events.handlers import deliver
from apps.orders.models import Order, Voucher, VoucherUse
from tests.orders import factories
from tests.orders.conftest import Shopper, client_for, event, send

pytestmark = pytest.mark.django_db(databases="__all__")


def guest_order(email: str) -> Order:
    return factories.order(customer_id=None, email=email)


def verified(customer_id: uuid.UUID, email: str) -> bool:
    return send("user.email_verified", "users", customer_id=str(customer_id), email=email)


def test_a_verified_email_claims_its_guest_orders_once():
    mine = [guest_order("ada@example.com"), guest_order("ada@example.com")]
    someone_elses = guest_order("bea@example.com")
    already_an_account = factories.order(customer_id=uuid.uuid4(), email="ada@example.com")
    owner = already_an_account.customer_id
    customer_id = uuid.uuid4()

    assert verified(customer_id, "ada@example.com")

    assert sorted(Order.objects.filter(customer_id=customer_id).values_list("id", flat=True)) == sorted(
        order.id for order in mine
    )
    someone_elses.refresh_from_db()
    already_an_account.refresh_from_db()
    assert someone_elses.customer_id is None
    assert already_an_account.customer_id == owner  # never taken from another account


def test_a_redelivered_event_changes_nothing_and_a_later_guest_order_waits_for_its_own_proof():
    first = guest_order("ada@example.com")
    customer_id = uuid.uuid4()
    envelope = event("user.email_verified", "users", customer_id=str(customer_id), email="ada@example.com")
    assert deliver("orders", envelope)
    later = guest_order("ada@example.com")

    assert deliver("orders", envelope) is False  # the inbox drops the duplicate
    # Another account proving another address takes nothing of Ada's.
    assert verified(uuid.uuid4(), "other@example.com")

    first.refresh_from_db()
    later.refresh_from_db()
    assert first.customer_id == customer_id
    assert later.customer_id is None


def test_claimed_orders_show_in_the_accounts_list_and_their_voucher_uses_count_for_it():
    order = guest_order("ada@example.com")
    VoucherUse.objects.create(
        voucher=Voucher.objects.create(code="GUEST5", kind="percentage", value=5),
        order=order,
        customer_id=None,
        discount="1.00",
        currency=order.currency,
    )
    shopper = Shopper(id=uuid.uuid4(), email="ada@example.com")
    client = client_for(shopper)
    assert client.get("/api/v1/orders/").json()["results"] == []

    verified(shopper.id, "ada@example.com")

    results = client.get("/api/v1/orders/").json()["results"]
    assert [result["number"] for result in results] == [order.number]
    assert client.get(f"/api/v1/orders/{order.id}/").status_code == 200
    assert VoucherUse.objects.get(order=order).customer_id == shopper.id


def test_an_unusable_payload_is_dropped_without_claiming():
    order = guest_order("ada@example.com")

    assert send("user.email_verified", "users", customer_id="not-a-uuid", email="ada@example.com")

    order.refresh_from_db()
    assert order.customer_id is None
