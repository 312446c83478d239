"""POST /api/v1/users/register/: a new shopper account, and every way registration is refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password

from apps.users.contracts.events import USER_REGISTERED
from apps.users.models import Customer
from tests.users import factories
from tests.users.helpers import assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/api/v1/users/register/"


def _payload(**overrides):
    return {
        "email": "New.Shopper@Example.com",
        "password": "a-long-and-unusual-passphrase",
        "first_name": "New",
        "last_name": "Shopper",
        "phone": "+44 20 7946 0958",
        **overrides,
    }


def test_register_creates_the_account_and_publishes_user_registered(api_client):
    response = api_client.post(URL, _payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["email"] == "new.shopper@example.com"
    assert {body["first_name"], body["last_name"], body["phone"]} == {"New", "Shopper", "+44 20 7946 0958"}
    assert "password" not in body
    customer = Customer.objects.get(pk=body["id"])
    assert customer.email == "new.shopper@example.com"
    assert customer.password != "a-long-and-unusual-passphrase"
    assert check_password("a-long-and-unusual-passphrase", customer.password)
    assert events(USER_REGISTERED) == [
        {
            "customer_id": body["id"],
            "email": "new.shopper@example.com",
            "first_name": "New",
            "last_name": "Shopper",
            "phone": "+44 20 7946 0958",
            "phone_verified": False,
        }
    ]


def test_only_email_and_password_are_required(api_client):
    response = api_client.post(URL, {"email": "min@example.com", "password": "another-long-passphrase"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == ""


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", "  Taken@Example.COM "])
def test_a_taken_email_in_any_case_is_409(api_client, email):
    factories.customer(email="taken@example.com")

    response = api_client.post(URL, _payload(email=email), format="json")

    assert_problem(response, status=409, code="email_taken")
    assert Customer.objects.count() == 1
    assert events(USER_REGISTERED) == []


def test_missing_fields_are_field_errors(api_client):
    response = api_client.post(URL, {}, format="json")

    body = assert_problem(response, status=400, code="invalid")
    assert set(body["errors"]) == {"email", "password"}
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("83629174650", "entirely numeric"),
        ("new.shopper.example", "too similar to the email"),
    ],
)
def test_a_weak_password_is_refused_by_djangos_validators(api_client, password, reason):
    response = api_client.post(URL, _payload(password=password), format="json")

    body = assert_problem(response, status=400, code="invalid")
    assert body["errors"]["password"], reason
    assert Customer.objects.count() == 0
    assert events(USER_REGISTERED) == []


def test_bad_email_and_phone_are_field_errors(api_client):
    response = api_client.post(URL, _payload(email="not-an-email", phone="call me"), format="json")

    body = assert_problem(response, status=400, code="invalid")
    assert set(body["errors"]) == {"email", "phone"}
    assert Customer.objects.count() == 0


def test_malformed_json_is_a_parse_error(api_client):
    response = api_client.post(URL, data='{"email": "x@example.com", ', content_type="application/json")

    assert_problem(response, status=400, code="parse_error")
    assert Customer.objects.count() == 0
