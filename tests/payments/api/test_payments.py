"""GET /api/v1/payments/ and /api/v1/payments/<id>/: the shopper's own payments only."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.payments.models import Refund
from tests.payments import factories
from tests.payments.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

LIST_URL = "/api/v1/payments/"


def _detail_url(payment_id) -> str:
    return f"/api/v1/payments/{payment_id}/"


@pytest.fixture
def shopper() -> uuid.UUID:
    return uuid.uuid4()


def test_a_shopper_lists_only_their_own_payments_newest_first(client_for, shopper):
    older = factories.captured_payment(customer_id=shopper)
    newer = factories.captured_payment(customer_id=shopper, amount="12.00")
    factories.captured_payment()  # someone else's

    response = client_for(shopper).get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [str(newer.id), str(older.id)]
    first = body["results"][0]
    assert (first["amount"], first["currency"], first["status"]) == ("12.00", "EUR", "succeeded")
    assert (first["card_brand"], first["card_last4"], first["amount_refunded"]) == ("visa", "4242", "0.00")


def test_the_list_paginates_filters_and_orders(client_for, shopper):
    for amount in ("1.00", "2.00", "3.00"):
        factories.captured_payment(customer_id=shopper, amount=amount)
    client = client_for(shopper)

    page = client.get(LIST_URL, {"page_size": 2, "ordering": "amount"}).json()
    assert [item["amount"] for item in page["results"]] == ["1.00", "2.00"]
    rest = client.get(page["next"]).json()
    assert ([item["amount"] for item in rest["results"]], rest["next"]) == (["3.00"], None)
    assert client.get(LIST_URL, {"status": "failed"}).json()["results"] == []
    assert_problem(client.get(LIST_URL, {"status": "bogus"}), status=400, code="invalid")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        pytest.param({"page_size": 0}, "invalid_page_size", id="page-size-zero"),
        pytest.param({"page_size": "many"}, "invalid_page_size", id="page-size-not-a-number"),
        pytest.param({"page_size": 101}, "invalid_page_size", id="page-size-too-big"),
        pytest.param({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor", id="bad-cursor"),
        pytest.param({"ordering": "failure_code"}, "invalid", id="unknown-ordering"),
        pytest.param({"limit": 5}, "invalid", id="offset-paging-is-gone"),
    ],
)
def test_bad_paging_parameters_are_refused_not_ignored(client_for, shopper, params, code):
    factories.captured_payment(customer_id=shopper)

    assert_problem(client_for(shopper).get(LIST_URL, params), status=400, code=code)


def test_the_list_query_count_does_not_grow_with_the_page(client_for, shopper):
    client = client_for(shopper)

    def queries_for_list() -> int:
        # The shopper's first request also reads the token revocation table; later ones hit its cache.
        client.get(LIST_URL)
        with CaptureQueriesContext(connections["payments"]) as captured:
            assert client.get(LIST_URL).status_code == 200
        return len(captured)

    intent = factories.captured_payment(customer_id=shopper)
    Refund.objects.create(refund_id="r-1", intent=intent, charge=intent.charge, amount=Decimal("1.00"), currency="EUR")
    few = queries_for_list()
    for _ in range(5):
        more = factories.captured_payment(customer_id=shopper)
        Refund.objects.create(
            refund_id=str(uuid.uuid4()), intent=more, charge=more.charge, amount=Decimal("1.00"), currency="EUR"
        )
    assert queries_for_list() == few


def test_a_shopper_reads_their_payment_with_its_refunds(client_for, shopper):
    intent = factories.captured_payment(customer_id=shopper)
    charge = intent.charge
    charge.amount_refunded = Decimal("5.00")
    charge.save()
    Refund.objects.create(
        refund_id="r-1", intent=intent, charge=charge, amount=Decimal("5.00"), currency="EUR", status="succeeded"
    )

    response = client_for(shopper).get(_detail_url(intent.id))

    assert response.status_code == 200
    body = response.json()
    assert (body["order_id"], body["amount_refunded"]) == (str(intent.order_id), "5.00")
    assert [(r["refund_id"], r["amount"], r["status"]) for r in body["refunds"]] == [("r-1", "5.00", "succeeded")]


def test_another_shoppers_payment_is_not_found(client_for, shopper):
    someone_elses = factories.captured_payment()

    response = client_for(shopper).get(_detail_url(someone_elses.id))

    assert_problem(response, status=404, code="payment_not_found")


def test_payments_need_a_signed_in_shopper():
    assert APIClient().get(LIST_URL).status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_problem(bad.get(LIST_URL), status=401, code="token_invalid")


def test_the_payments_schema_is_served(client):
    response = client.get("/api/v1/payments/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/payments/", "/api/v1/payments/{payment_id}/", "/api/v1/payments/webhooks/{provider}/"} <= set(
        paths
    )
