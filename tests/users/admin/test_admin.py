"""The users admin: customers searchable and deactivatable, never their password hash;
refresh tokens read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.users.contracts.events import USER_UPDATED
from apps.users.models import Customer, RefreshToken
from apps.users.services import tokens
from tests.users import factories
from tests.users.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def _url(name: str, *args) -> str:
    # The admin lives at /admin/ all-in-one and at /admin/users/ in the split shape.
    return reverse(f"admin:users_{name}", args=args)


def test_customers_are_searchable_by_email(admin_client):
    factories.customer(email="findme@example.com")
    factories.customer(email="other@example.com")

    response = admin_client.get(_url("customer_changelist"), {"q": "findme"})

    assert response.status_code == 200
    assert b"findme@example.com" in response.content
    assert b"other@example.com" not in response.content


def test_customers_filter_by_active(admin_client):
    factories.customer(email="gone@example.com", is_active=False)
    factories.customer(email="here@example.com")

    response = admin_client.get(_url("customer_changelist"), {"is_active__exact": "0"})

    assert b"gone@example.com" in response.content
    assert b"here@example.com" not in response.content


def test_the_change_page_shows_no_password_hash_and_addresses_read_only(admin_client):
    customer = factories.customer()
    factories.address(customer=customer, line1="Secret Street 5")

    response = admin_client.get(_url("customer_change", customer.pk))

    assert response.status_code == 200
    assert customer.password.encode() not in response.content
    assert b'name="password"' not in response.content
    assert b"Secret Street 5" in response.content
    assert b'name="addresses-0-line1"' not in response.content  # shown, not editable
    assert b'name="addresses-0-DELETE"' not in response.content  # nor deletable


def test_the_deactivate_action(admin_client):
    customer = factories.customer()
    tokens.customer_login(email=customer.email, password=factories.PASSWORD)

    response = admin_client.post(
        _url("customer_changelist"), {"action": "deactivate", "_selected_action": [str(customer.pk)]}, follow=True
    )

    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.is_active is False
    assert not RefreshToken.objects.filter(customer=customer, revoked_at__isnull=True).exists()
    assert [p["customer_id"] for p in events(USER_UPDATED)] == [str(customer.id)]


def test_editing_a_customer_publishes_user_updated(admin_client):
    customer = factories.customer()
    form = {
        "first_name": "Edited",
        "last_name": customer.last_name,
        "phone": customer.phone,
        "is_active": "on",
        "addresses-TOTAL_FORMS": "0",
        "addresses-INITIAL_FORMS": "0",
        "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(_url("customer_change", customer.pk), form)

    assert response.status_code == 302, response.content
    customer.refresh_from_db()
    assert customer.first_name == "Edited"
    assert [p["first_name"] for p in events(USER_UPDATED)] == ["Edited"]


def test_a_staff_edit_of_the_phone_unverifies_it(admin_client):
    customer = factories.customer(phone_verified_at=timezone.now())
    form = {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": "+49 30 7654321",
        "phone_verified_at": "2020-01-01 00:00:00",  # read-only: ignored
        "is_active": "on",
        "addresses-TOTAL_FORMS": "0",
        "addresses-INITIAL_FORMS": "0",
        "addresses-MIN_NUM_FORMS": "0",
        "addresses-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(_url("customer_change", customer.pk), form)

    assert response.status_code == 302, response.content
    customer.refresh_from_db()
    assert (customer.phone, customer.phone_verified_at) == ("+49 30 7654321", None)
    assert events(USER_UPDATED)[-1]["phone_verified"] is False


def test_customers_cannot_be_added_or_deleted_in_the_admin(admin_client):
    customer = factories.customer()

    assert admin_client.get(_url("customer_add")).status_code == 403
    assert admin_client.post(_url("customer_delete", customer.pk), {"post": "yes"}).status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_refresh_tokens_are_read_only(admin_client):
    customer = factories.customer()
    tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    token = RefreshToken.objects.get()

    listing = admin_client.get(_url("refreshtoken_changelist"))
    page = admin_client.get(_url("refreshtoken_change", token.pk))

    assert listing.status_code == 200 and customer.email.encode() in listing.content
    assert page.status_code == 200
    assert token.token_hash.encode() not in page.content
    assert b'name="_save"' not in page.content
    assert admin_client.post(_url("refreshtoken_change", token.pk), {}).status_code == 403
    assert admin_client.get(_url("refreshtoken_add")).status_code == 403
