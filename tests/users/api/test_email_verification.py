"""Email verification: registration emails a link (sealed in its event); the link's token verifies
the address once and publishes user.email_verified (what lets orders hand over guest orders);
a forged, expired or stale token verifies nothing; a signed-in shopper may ask for a new link."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import override_settings

from apps.core.sealing import unseal
from apps.users.contracts.events import EMAIL_VERIFICATION_REQUESTED, EMAIL_VERIFIED
from apps.users.models import Customer
from apps.users.services.customers import customer_register
from tests.users import factories
from tests.users.helpers import assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__")

REGISTER = "/api/v1/users/register/"
VERIFY = "/api/v1/users/email/verify/"
RESEND = "/api/v1/users/me/email/verification/"


def _link_token(index: int = -1) -> str:
    url = unseal(events(EMAIL_VERIFICATION_REQUESTED)[index]["sealed_verify_url"])
    return parse_qs(urlsplit(url).query)["token"][0]


@override_settings(SHOP_FRONTEND_URL="https://shop.example.com/")
def test_registration_publishes_a_sealed_verification_link(api_client):
    response = api_client.post(REGISTER, {"email": "Ada@Example.com", "password": "a-long-unusual-phrase"})

    assert response.status_code == 201, response.content
    assert response.json()["email_verified"] is False
    [payload] = events(EMAIL_VERIFICATION_REQUESTED)
    assert payload["customer_id"] == response.json()["id"] and payload["email"] == "ada@example.com"
    url = unseal(payload["sealed_verify_url"])
    assert url.startswith("https://shop.example.com/verify-email?token=")
    assert parse_qs(urlsplit(url).query)["token"][0] not in str(payload)  # only sealed in the event
    assert events(EMAIL_VERIFIED) == []  # registering proves nothing


def test_the_link_verifies_the_email_once_and_publishes_user_email_verified(api_client):
    customer = customer_register(email="ada@example.com", password="a-long-unusual-phrase")
    token = _link_token()

    first = api_client.post(VERIFY, {"token": token}, format="json")
    second = api_client.post(VERIFY, {"token": token}, format="json")

    assert (first.status_code, second.status_code) == (204, 204)
    customer.refresh_from_db()
    assert customer.email_verified
    assert events(EMAIL_VERIFIED) == [{"customer_id": str(customer.id), "email": "ada@example.com"}]


@pytest.mark.parametrize(
    "token",
    [
        "made-up",
        signing.dumps({"customer": "00000000-0000-0000-0000-000000000000", "email": "ada@example.com"}),  # no salt
    ],
)
def test_a_forged_token_verifies_nothing(api_client, token):
    customer = customer_register(email="ada@example.com", password="a-long-unusual-phrase")

    assert_problem(
        api_client.post(VERIFY, {"token": token}, format="json"), status=400, code="email_verification_token_invalid"
    )

    customer.refresh_from_db()
    assert not customer.email_verified and events(EMAIL_VERIFIED) == []


def test_an_expired_token_verifies_nothing(api_client, monkeypatch, settings):
    real_time = time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - settings.USERS_EMAIL_VERIFICATION_SECONDS - 60)
    customer = customer_register(email="ada@example.com", password="a-long-unusual-phrase")
    monkeypatch.setattr(signing.time, "time", real_time)

    response = api_client.post(VERIFY, {"token": _link_token()}, format="json")

    assert_problem(response, status=400, code="email_verification_token_invalid")
    customer.refresh_from_db()
    assert not customer.email_verified


def test_a_token_for_an_inactive_account_verifies_nothing(api_client):
    customer = customer_register(email="ada@example.com", password="a-long-unusual-phrase")
    Customer.objects.filter(pk=customer.pk).update(is_active=False)

    assert_problem(
        api_client.post(VERIFY, {"token": _link_token()}, format="json"),
        status=400,
        code="email_verification_token_invalid",
    )
    assert events(EMAIL_VERIFIED) == []


def test_a_signed_in_shopper_asks_for_a_new_link_until_verified(client_for, api_client):
    customer = factories.customer()  # made before verification existed: no link yet
    client = client_for(customer)

    response = client.post(RESEND)

    assert response.status_code == 202
    assert response.json() == {"detail": "A verification link has been sent to your email address."}
    assert api_client.post(VERIFY, {"token": _link_token()}, format="json").status_code == 204
    assert_problem(client.post(RESEND), status=409, code="email_already_verified")
    assert client.get("/api/v1/users/me/").json()["email_verified"] is True


def test_asking_for_links_is_throttled_by_its_own_scope(client_for, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "email_verification": "2/hour"},
    }
    client = client_for(factories.customer())
    assert [client.post(RESEND).status_code for _ in range(2)] == [202, 202]

    assert_problem(client.post(RESEND), status=429, code="throttled")
    assert len(events(EMAIL_VERIFICATION_REQUESTED)) == 2  # the refused request sent nothing
