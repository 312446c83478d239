"""GET/PATCH /api/v1/notifications/preferences/: the signed-in shopper's own choices."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from apps.notifications.models import Preference
from tests.assertions import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/api/v1/notifications/preferences/"


def test_a_shopper_who_never_chose_sees_the_defaults(client_for):
    response = client_for(uuid.uuid4()).get(URL)

    assert response.status_code == 200
    assert response.json() == {"marketing_opt_out": False, "sms_opt_in": False, "updated_at": None}
    assert not Preference.objects.exists()  # reading creates nothing


def test_a_shopper_changes_their_choices(client_for):
    customer_id = uuid.uuid4()
    api = client_for(customer_id)

    first = api.patch(URL, {"sms_opt_in": True}, format="json")
    assert first.status_code == 200
    assert first.json()["sms_opt_in"] is True
    assert first.json()["marketing_opt_out"] is False
    assert first.json()["updated_at"]

    second = api.patch(URL, {"marketing_opt_out": True}, format="json")
    assert (second.json()["marketing_opt_out"], second.json()["sms_opt_in"]) == (True, True)

    assert api.get(URL).json()["marketing_opt_out"] is True
    preference = Preference.objects.get(customer_id=customer_id)
    assert (preference.marketing_opt_out, preference.sms_opt_in) == (True, True)


def test_each_shopper_sees_only_their_own_choices(client_for):
    client_for(uuid.uuid4()).patch(URL, {"sms_opt_in": True}, format="json")

    assert client_for(uuid.uuid4()).get(URL).json()["sms_opt_in"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [({"sms_opt_in": "perhaps"}, "sms_opt_in"), ({"sms_opt_out": True}, "sms_opt_out")],
)
def test_bad_input_is_a_400_with_field_errors(client_for, body, field):
    response = client_for(uuid.uuid4()).patch(URL, body, format="json")

    problem = assert_problem(response, status=400, code="invalid")
    assert field in problem["errors"]
    assert not Preference.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(client_for):
    response = client_for(uuid.uuid4()).patch(URL, [1, 2], format="json")
    assert response.status_code == 400


def test_without_a_token_it_is_a_401(api_client):
    assert_problem(api_client.get(URL), status=401, code="not_authenticated")
    assert_problem(api_client.patch(URL, {"sms_opt_in": True}, format="json"), status=401, code="not_authenticated")


def test_an_expired_token_is_a_401(client_for):
    api = client_for(uuid.uuid4(), lifetime=timedelta(minutes=-5))
    assert_problem(api.get(URL), status=401, code="token_invalid")


def test_the_api_is_described_in_the_openapi_schema(api_client):
    response = api_client.get("/api/v1/notifications/schema/", {"format": "json"})
    assert response.status_code == 200
    operations = response.json()["paths"]["/api/v1/notifications/preferences/"]
    assert {"get", "patch"} <= set(operations)
