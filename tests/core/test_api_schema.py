"""Every service's published OpenAPI schema is valid and says exactly what the server does (clients
are generated from it): problem bodies for errors, pages for lists, the input rules the server
applies. The fuzz (scripts/fuzz) checks the same schemas against the running server."""

from __future__ import annotations

from functools import cache

import pytest
from django.test import Client
from openapi_spec_validator import validate

from config.services import SERVICES

SERVICE_NAMES = sorted(SERVICES)


@cache
def _schema(service: str) -> dict:
    response = Client().get(f"/api/v1/{service}/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(service: str):
    for path, item in _schema(service)["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _resolve(service: str, schema: dict) -> dict:
    ref = schema.get("$ref")
    return _schema(service)["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_the_schema_is_a_valid_openapi_document(service):
    validate(_schema(service))


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_error_response_is_a_problem_body(service):
    for path, method, operation in _operations(service):
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert list(response["content"]) == ["application/problem+json"], (path, method, code)
                assert response["content"]["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_operations_are_named_and_tagged_by_their_service(service):
    ids = [operation["operationId"] for _, _, operation in _operations(service)]
    assert ids and all(name.startswith(f"{service}_") for name in ids), ids
    assert len(set(ids)) == len(ids)
    assert all(operation["tags"] == [service] for _, _, operation in _operations(service))


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_operation_documents_the_errors_its_shape_implies(service):
    for path, method, operation in _operations(service):
        codes = set(operation["responses"])
        has_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
        if has_input:
            assert "400" in codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        if operation.get("security") and {} not in operation["security"]:
            assert "401" in codes, (path, method)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_list_is_documented_as_a_cursor_page_with_bounded_size(service):
    lists = [
        (path, operation)
        for path, method, operation in _operations(service)
        if method == "get" and "previous" in _resolve(service, _response_schema(operation)).get("properties", {})
    ]
    assert lists or service == "notifications"  # the only service without a listing
    for path, operation in lists:
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert parameters["cursor"]["schema"]["type"] == "string", path
        assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}, path
        assert "limit" not in parameters and "offset" not in parameters
        page = _resolve(service, _response_schema(operation))
        assert set(page["required"]) == {"next", "previous", "results"}
        assert "400" in operation["responses"]


def _response_schema(operation: dict) -> dict:
    return operation["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})


def test_the_orders_list_is_documented_as_the_page_it_answers():
    operation = _schema("orders")["paths"]["/api/v1/orders/"]["get"]
    assert operation["operationId"] == "orders_list"
    page = _resolve("orders", _response_schema(operation))
    assert page["properties"]["results"]["type"] == "array"


def test_the_orders_operations_document_their_domain_errors():
    paths = _schema("orders")["paths"]
    assert {"400", "401", "409", "422", "503"} <= set(paths["/api/v1/orders/"]["post"]["responses"])
    assert {"404", "409"} <= set(paths["/api/v1/orders/{order_id}/cancel/"]["post"]["responses"])


def test_a_patch_body_is_documented_as_strictly_as_the_server_validates_it():
    operation = _schema("orders")["paths"]["/api/v1/orders/cart/lines/{sku}/"]["patch"]
    body = _resolve("orders", operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["required"] == ["quantity"]
    assert operation["requestBody"]["required"] is True


def test_the_checkout_documents_its_idempotency_key_and_the_development_tokens():
    operation = _schema("orders")["paths"]["/api/v1/orders/"]["post"]
    key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] and key["schema"]["pattern"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert {example["value"]["payment_method_token"] for example in examples.values()} >= {"tok_success", "tok_decline"}


def test_new_passwords_document_the_minimum_length_the_validators_apply():
    components = _schema("users")["components"]["schemas"]
    assert components["RegisterInputRequest"]["properties"]["password"]["minLength"] == 8
    assert components["PasswordResetConfirmInputRequest"]["properties"]["new_password"]["minLength"] == 8


def test_a_blank_default_matches_its_own_documented_pattern():
    import re

    for service in SERVICE_NAMES:
        for component in _schema(service)["components"]["schemas"].values():
            for name, field in component.get("properties", {}).items():
                if "pattern" in field and "default" in field:
                    assert re.search(field["pattern"], field["default"]), (service, name)


def test_the_catalog_documents_option_format_conditional_answers_and_typed_children():
    schema = _schema("catalog")
    products = schema["paths"]["/api/v1/catalog/products/"]["get"]
    option = next(p for p in products["parameters"] if p["name"] == "option")
    assert option["schema"]["items"]["pattern"]
    categories = schema["paths"]["/api/v1/catalog/categories/"]["get"]
    assert "304" in categories["responses"] and "304" in products["responses"]
    assert any(p["name"] == "If-None-Match" for p in categories["parameters"])
    children = schema["components"]["schemas"]["CategoryNode"]["properties"]["children"]
    assert children["items"] == {"$ref": "#/components/schemas/CategoryNode"}


def test_throttled_operations_document_429():
    paths = _schema("users")["paths"]
    for path in ("/api/v1/users/register/", "/api/v1/users/token/", "/api/v1/users/password-reset/"):
        assert "429" in paths[path]["post"]["responses"], path
