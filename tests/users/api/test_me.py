"""GET/PATCH /api/v1/users/me/ and POST /api/v1/users/me/password/."""

from __future__ import annotations

import pytest

from apps.core.auth.tokens import verify_access_token
from apps.users.contracts.events import USER_UPDATED
from apps.users.models import Customer, RefreshToken
from tests.users import factories
from tests.users.helpers import assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__")

ME = "/api/v1/users/me/"
PASSWORD = "/api/v1/users/me/password/"


def test_me_returns_the_profile(auth_client, customer):
    response = auth_client.get(ME)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(customer.id),
        "email": customer.email,
        "email_verified": False,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "phone_verified": False,
        "date_joined": response.json()["date_joined"],
    }


def test_me_needs_a_token(api_client):
    assert_problem(api_client.get(ME), status=401, code="not_authenticated")


def test_me_of_a_deactivated_customer_is_401(auth_client, customer):
    Customer.objects.filter(pk=customer.pk).update(is_active=False)

    assert_problem(auth_client.get(ME), status=401, code="account_inactive")


def test_patch_me_updates_the_profile_and_publishes_user_updated(auth_client, customer):
    response = auth_client.patch(ME, {"first_name": "Grace", "phone": "+1 555 0100"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == "Grace"
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.phone) == ("Grace", customer.last_name, "+1 555 0100")
    assert events(USER_UPDATED) == [
        {
            "customer_id": str(customer.id),
            "email": customer.email,
            "first_name": "Grace",
            "last_name": customer.last_name,
            "phone": "+1 555 0100",
            "is_active": True,
            "phone_verified": False,
        }
    ]


def test_patch_me_without_a_change_publishes_nothing(auth_client, customer):
    response = auth_client.patch(ME, {"first_name": customer.first_name}, format="json")

    assert response.status_code == 200
    assert events(USER_UPDATED) == []


def test_patch_me_cannot_change_the_email(auth_client, customer):
    response = auth_client.patch(ME, {"email": "new@example.com"}, format="json")

    body = assert_problem(response, status=400, code="invalid")
    assert body["errors"] == {"email": ["Unknown field."]}
    customer.refresh_from_db()
    assert customer.email != "new@example.com"


def test_patch_me_with_a_bad_phone_is_400_and_changes_nothing(auth_client, customer):
    body = assert_problem(
        auth_client.patch(ME, {"first_name": "Grace", "phone": "call me maybe"}, format="json"),
        status=400,
        code="invalid",
    )

    assert set(body["errors"]) == {"phone"}
    customer.refresh_from_db()
    assert customer.first_name == "Ada"
    assert events(USER_UPDATED) == []


def test_patch_me_with_malformed_json_is_a_parse_error(auth_client):
    response = auth_client.patch(ME, data="{first_name: Grace}", content_type="application/json")

    assert_problem(response, status=400, code="parse_error")


def test_password_change_sets_the_password_signs_other_sessions_out_and_returns_a_new_pair(
    auth_client, api_client, customer
):
    old_session = api_client.post(
        "/api/v1/users/token/", {"email": customer.email, "password": factories.PASSWORD}, format="json"
    ).json()

    response = auth_client.post(
        PASSWORD,
        {"current_password": factories.PASSWORD, "new_password": "an-even-better-passphrase"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert verify_access_token(response.json()["access_token"]).id == customer.id
    customer.refresh_from_db()
    assert customer.check_password("an-even-better-passphrase")
    refused = api_client.post("/api/v1/users/token/refresh/", {"refresh_token": old_session["refresh_token"]})
    assert_problem(refused, status=401, code="refresh_token_invalid")
    fresh = api_client.post("/api/v1/users/token/refresh/", {"refresh_token": response.json()["refresh_token"]})
    assert fresh.status_code == 200
    assert RefreshToken.objects.filter(customer=customer, revoke_reason="password").count() == 1


def test_password_change_with_a_wrong_current_password_is_400_and_changes_nothing(auth_client, customer):
    body = assert_problem(
        auth_client.post(
            PASSWORD, {"current_password": "wrong", "new_password": "an-even-better-passphrase"}, format="json"
        ),
        status=400,
        code="invalid",
    )

    assert set(body["errors"]) == {"current_password"}
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)


def test_password_change_to_a_weak_password_is_400_and_changes_nothing(auth_client, customer):
    body = assert_problem(
        auth_client.post(PASSWORD, {"current_password": factories.PASSWORD, "new_password": "123"}, format="json"),
        status=400,
        code="invalid",
    )

    assert set(body["errors"]) == {"new_password"}
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)


def test_password_change_with_missing_fields_is_400(auth_client):
    body = assert_problem(auth_client.post(PASSWORD, {}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"current_password", "new_password"}
