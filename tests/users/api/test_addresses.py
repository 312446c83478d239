"""The signed-in shopper's addresses: CRUD on their own, 404 for anyone else's."""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.core.services import db_alias
from apps.users.models import Address
from tests.users import factories
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

LIST = "/api/v1/users/addresses/"


def _detail(address_id) -> str:
    return f"{LIST}{address_id}/"


def test_create_an_address(auth_client, customer):
    response = auth_client.post(LIST, factories.address_input(line2="Floor 3"), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["country"] == "DE"
    assert body["line2"] == "Floor 3"
    assert body["is_default"] is True  # the first address is the default
    assert Address.objects.get(pk=body["id"]).customer_id == customer.id


def test_making_an_address_the_default_unsets_the_previous_one(auth_client, customer):
    first = factories.address(customer=customer, is_default=True)

    response = auth_client.post(LIST, factories.address_input(is_default=True), format="json")

    assert response.status_code == 201
    first.refresh_from_db()
    assert first.is_default is False
    assert Address.objects.get(pk=response.json()["id"]).is_default is True


def test_list_shows_only_my_addresses_oldest_first(auth_client, customer, other_customer):
    first = factories.address(customer=customer, is_default=True)
    second = factories.address(customer=customer)
    factories.address(customer=other_customer)

    response = auth_client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [str(first.id), str(second.id)]
    assert [item["is_default"] for item in body["results"]] == [True, False]
    assert body["next"] is None


def test_list_pages_through_with_a_cursor_newest_first(auth_client, customer):
    for label in ("a", "b", "c"):
        factories.address(customer=customer, label=label)

    first_page = auth_client.get(LIST, {"ordering": "-created_at", "page_size": 2}).json()
    second_page = auth_client.get(first_page["next"]).json()

    assert [item["label"] for item in first_page["results"]] == ["c", "b"]
    assert [item["label"] for item in second_page["results"]] == ["a"]


def test_an_unknown_ordering_is_400(auth_client):
    body = assert_problem(auth_client.get(LIST, {"ordering": "password"}), status=400, code="invalid")

    assert set(body["errors"]) == {"ordering"}


def test_the_list_query_count_does_not_grow_with_the_page(auth_client, customer):
    def queries_for(count: int) -> int:
        Address.objects.filter(customer=customer).delete()
        for _ in range(count):
            factories.address(customer=customer)
        # The shopper's first request also reads the token revocation table; later ones hit its cache.
        auth_client.get(LIST)
        with CaptureQueriesContext(connections[db_alias("users")]) as captured:
            assert auth_client.get(LIST).status_code == 200
        return len(captured)

    assert queries_for(1) == queries_for(10) == 1


def test_retrieve_update_and_delete_my_address(auth_client, customer):
    address = factories.address(customer=customer)

    assert auth_client.get(_detail(address.id)).json()["line1"] == address.line1
    updated = auth_client.patch(_detail(address.id), {"city": "Hamburg", "postal_code": "20095"}, format="json")
    assert updated.status_code == 200, updated.content
    assert (updated.json()["city"], updated.json()["postal_code"]) == ("Hamburg", "20095")
    assert auth_client.delete(_detail(address.id)).status_code == 204
    assert not Address.objects.filter(pk=address.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_shoppers_address_is_404_and_unchanged(auth_client, other_customer, method):
    theirs = factories.address(customer=other_customer, city="Paris")

    response = getattr(auth_client, method)(_detail(theirs.id), {"city": "Hacked"}, format="json")

    assert_problem(response, status=404, code="not_found")
    theirs.refresh_from_db()
    assert theirs.city == "Paris"


def test_an_unknown_address_is_404(auth_client):
    assert_problem(auth_client.get(_detail(uuid.uuid4())), status=404, code="not_found")


def test_create_with_missing_fields_is_400_and_creates_nothing(auth_client):
    body = assert_problem(auth_client.post(LIST, {"label": "Home"}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"full_name", "line1", "city", "postal_code", "country"}
    assert Address.objects.count() == 0


def test_a_card_number_in_an_address_is_400_and_creates_nothing(auth_client):
    data = factories.address_input(line2="card 4111-1111-1111-1111 exp 12/30")

    body = assert_problem(auth_client.post(LIST, data, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"line2"}
    assert "1111" not in str(body)
    assert Address.objects.count() == 0


def test_a_bad_country_is_400(auth_client):
    body = assert_problem(
        auth_client.post(LIST, factories.address_input(country="Germany"), format="json"), status=400, code="invalid"
    )

    assert set(body["errors"]) == {"country"}


def test_update_with_bad_input_is_400_and_changes_nothing(auth_client, customer):
    address = factories.address(customer=customer, city="Berlin")

    response = auth_client.patch(_detail(address.id), {"city": "", "country": "X"}, format="json")

    body = assert_problem(response, status=400, code="invalid")
    assert set(body["errors"]) == {"city", "country"}
    address.refresh_from_db()
    assert address.city == "Berlin"


def test_malformed_json_is_a_parse_error(auth_client):
    response = auth_client.post(LIST, data="[", content_type="application/json")

    assert_problem(response, status=400, code="parse_error")
    assert Address.objects.count() == 0


def test_addresses_need_a_token(api_client):
    assert_problem(api_client.get(LIST), status=401, code="not_authenticated")
