"""orders -> catalog through the real contract client: an unreachable catalog is a 503 problem
after the configured attempts, never a hang or a 500."""

from __future__ import annotations

import pytest

from apps.core.exceptions import ServiceUnavailable
from apps.orders.integrations import catalog_variants
from tests.assertions import assert_problem
from tests.orders.conftest import client_for, make_shopper

pytestmark = pytest.mark.django_db(databases="__all__")

# Nothing listens on the discard port of the loopback interface: the connection is refused at once.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def catalog_down(settings):
    settings.CATALOG_API_URL = UNREACHABLE
    settings.CATALOG_API_ATTEMPTS = 2
    settings.CATALOG_API_BACKOFF_SECONDS = 0


def test_unreachable_catalog_raises_service_unavailable(catalog_down):
    with pytest.raises(ServiceUnavailable) as error:
        catalog_variants(skus=["ANY"])
    assert error.value.status_code == 503
    assert error.value.get_codes() == "catalog_unavailable"


def test_unreachable_catalog_is_a_503_problem(catalog_down):
    response = client_for(make_shopper()).post(
        "/api/v1/orders/cart/lines/", {"sku": "ANY", "quantity": 1}, format="json"
    )

    assert_problem(response, status=503, code="catalog_unavailable")


def test_no_skus_means_no_call(catalog_down):
    assert catalog_variants(skus=[]) == {}
