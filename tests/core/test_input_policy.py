"""One input rule in every service (apps.core.api.serializers): a JSON value must have its field's
type (no 0 for false, no number for a string), and an unknown body field or query parameter is a
400, never silently ignored. Checked through each service's API, and on every input serializer."""

from __future__ import annotations

import inspect
import uuid
from importlib import import_module

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from apps.core.api.serializers import InputSerializer
from config.services import SERVICES
from tests.assertions import assert_problem
from tests.core.tokens import access_token

pytestmark = pytest.mark.django_db(databases="__all__")

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"


def _client(*, signed_in: bool) -> APIClient:
    client = APIClient()
    if signed_in:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(subject=uuid.uuid4())}")
    return client


BODY_CASES = [
    # (signed in, method, path, body, field, message)
    (True, "patch", "/api/v1/notifications/preferences/", {"sms_opt_in": 0}, "sms_opt_in", "Must be true or false."),
    (True, "patch", "/api/v1/notifications/preferences/", {"sms_opt_inn": True}, "sms_opt_inn", "Unknown field."),
    (False, "post", "/api/v1/orders/cart/lines/", {"sku": 1234}, "sku", "Must be a string."),
    (False, "post", "/api/v1/orders/cart/lines/", {"sku": "A-1", "quantity": "2"}, "quantity", "Must be an integer."),
    (False, "post", "/api/v1/orders/cart/lines/", {"sku": "A-1", "qty": 2}, "qty", "Unknown field."),
    (False, "post", "/api/v1/users/register/", {"email": EMAIL, "password": PASSWORD, "first_name": 0}, "first_name",
     "Must be a string."),
    (False, "post", "/api/v1/users/register/", {"email": EMAIL, "password": PASSWORD, "nickname": "ada"}, "nickname",
     "Unknown field."),
    (True, "post", "/api/v1/users/addresses/",
     {"full_name": "A", "line1": "1 St", "city": "X", "postal_code": "1", "country": "DE", "is_default": 1},
     "is_default", "Must be true or false."),
]  # fmt: skip


@pytest.mark.parametrize(("signed_in", "method", "path", "body", "field", "message"), BODY_CASES)
def test_a_body_value_of_the_wrong_type_or_an_unknown_field_is_refused(signed_in, method, path, body, field, message):
    response = getattr(_client(signed_in=signed_in), method)(path, body, format="json")

    problem = assert_problem(response, status=400, code="invalid")
    assert problem["errors"][field] == [message]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/", "/api/v1/payments/", "/api/v1/users/addresses/", "/api/v1/catalog/products/"],
)
@pytest.mark.parametrize("params", [{"limit": 5}, {"offset": 5}, {"page_size": 0}, {"page_size": "x"}])
def test_every_listing_refuses_paging_it_does_not_do(path, params):
    response = _client(signed_in=True).get(path, params)

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("value", ["1", "0", "yes", "True"])
def test_a_boolean_query_parameter_is_true_or_false_only(value):
    response = _client(signed_in=False).get("/api/v1/catalog/products/", {"in_stock": value})

    problem = assert_problem(response, status=400, code="invalid")
    assert problem["errors"]["in_stock"] == ["Must be true or false."]


@pytest.mark.parametrize(
    ("path", "name"),
    [("/api/v1/orders/", "status"), ("/api/v1/payments/", "status"), ("/api/v1/users/addresses/", "ordering")],
)
def test_an_empty_query_parameter_is_refused_not_read_as_absent(path, name):
    response = _client(signed_in=True).get(path, {name: ""})

    problem = assert_problem(response, status=400, code="invalid")
    assert problem["errors"][name] == ["Give a value, or leave the parameter out."]


def _input_serializers():
    for service in SERVICES.values():
        module = import_module(f"{service.app}.api.serializers")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, serializers.Serializer) and "Input" in name:
                yield pytest.param(cls, id=f"{module.__name__}.{name}")


@pytest.mark.parametrize("serializer_class", list(_input_serializers()))
def test_every_input_serializer_follows_the_input_policy(serializer_class):
    assert issubclass(serializer_class, InputSerializer)
