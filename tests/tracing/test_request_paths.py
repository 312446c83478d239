"""Tracing never turns a request into a server error: a path that is not a WSGI (latin-1) string,
as some servers pass it, is answered as without tracing (here a 404 problem), not a 500."""

from __future__ import annotations

import pytest

from tests.assertions import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/catalog/products/lorem%20%D9%84%D8%A7%20ipsum%E4%BD%A0%E5%A5%BD1234/",
        "/api/v1/catalog/products/%F1%98%86%89B%C2%BD%05%F1%AD%B8%8B%C2%AAq/",
    ],
)
def test_a_path_beyond_latin1_is_answered_not_a_server_error(client, path):
    assert_problem(client.get(path), status=404, code="not_found")
