"""The metrics staff watch, emitted where the work happens (CloudWatch embedded metric format on
stdout): the saga's steps and their times since checkout, cancellations by reason, the outbox
relay, duplicate deliveries, handler failures and the payment provider's calls. In process, with
the real services on every side (tests/orders/test_full_saga.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pytest

from apps.core.db import atomic
from apps.core.events import publish
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver
from apps.core.metrics import metric_emit
from apps.orders.models import Order, OrderStatus
from apps.orders.services.saga import orders_expire_stalled
from tests.orders.conftest import client_for, make_shopper
from tests.orders.test_full_saga import _checkout, seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


@pytest.fixture
def metrics(settings, capsys):
    """Call it for the metric records written so far, by name."""
    settings.METRICS_EMBEDDED = True
    settings.AWS_RESOURCE_PREFIX = "staging-"

    def read() -> dict[str, list[dict]]:
        by_name = defaultdict(list)
        for line in capsys.readouterr().out.splitlines():
            if line.startswith('{"_aws"'):
                record = json.loads(line)
                [directive] = record["_aws"]["CloudWatchMetrics"]
                [metric] = directive["Metrics"]
                by_name[metric["Name"]].append({**record, "unit": metric["Unit"], "sets": directive["Dimensions"]})
        return by_name

    return read


def _place(sku: str, token: str, key: str) -> Order:
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": sku, "quantity": 1}, format="json")
    response = _checkout(client, token, key)
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def test_a_confirmed_order_counts_and_times_each_step(live_catalog, metrics):
    seed("METRIC-MUG", price="12.50", stock=5)
    metrics()  # the seed's own events

    order = _place("METRIC-MUG", "tok_visa", "metrics-1")

    assert order.status == OrderStatus.CONFIRMED
    found = metrics()
    for name in ("OrdersPlaced", "OrdersConfirmed"):
        [record] = found[name]
        assert (record[name], record["unit"], record["Service"], record["sets"]) == (
            1,
            "Count",
            "staging-orders",
            [["Service"]],
        )
    steps = ("CheckoutToReserved", "CheckoutToPaid", "CheckoutToConfirmed")
    reserved, paid, confirmed = (found[name][0][name] for name in steps)
    assert 0 < reserved <= paid <= confirmed < 60
    assert {found[name][0]["unit"] for name in steps} == {"Seconds"}
    assert not found["OrdersCancelled"]
    # The relay counted what it sent, per producer
    relayed = defaultdict(int)
    for record in found["OutboxRelayed"]:
        relayed[record["Service"]] += record["OutboxRelayed"]
    assert relayed["staging-orders"] >= 3  # order.created, payment.requested, order.confirmed
    assert relayed["staging-catalog"] >= 1 and relayed["staging-payments"] >= 1
    # The provider's charge was timed, and did not fail
    [charge] = found["PaymentProviderLatency"]
    assert (charge["Operation"], charge["Service"], charge["unit"]) == ("charge", "staging-payments", "Milliseconds")
    assert charge["sets"] == [["Service", "Operation"]] and charge["PaymentProviderLatency"] > 0
    assert not found["PaymentProviderErrors"]


def test_a_declined_card_is_no_provider_error_and_its_deadline_counts_a_cancellation_by_reason(live_catalog, metrics):
    seed("METRIC-TEE", price="20.00", stock=5)
    metrics()

    order = _place("METRIC-TEE", "tok_decline", "metrics-2")

    # The order waits for another card: the provider answered (a decline), it did not fail.
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED
    found = metrics()
    assert found["PaymentProviderLatency"] and not found["PaymentProviderErrors"]
    assert not found["OrdersCancelled"] and not found["OrdersConfirmed"] and not found["CheckoutToPaid"]

    # Nobody pays again before the deadline: the cancellation is counted by its reason.
    assert orders_expire_stalled(now=order.payment_deadline + timedelta(seconds=1)) == 1
    [cancelled] = metrics()["OrdersCancelled"]
    assert cancelled["Reason"] == "payment_deadline"
    assert cancelled["sets"] == [["Service"], ["Service", "Reason"]]


def test_a_duplicate_delivery_and_a_failing_handler_are_counted(metrics, settings):
    with atomic("users"):
        envelope = publish(
            producer="users",
            event_type="staff.changed",
            payload={
                "username": "metric-staff",
                "email": "m@example.com",
                "first_name": "M",
                "last_name": "S",
                "password": "!unusable",
                "is_active": True,
                "is_staff": True,
                "is_superuser": False,
                "groups": [],
            },
        )
    metrics()

    assert deliver("catalog", envelope) is False  # handled after commit already
    broken = Envelope(type="staff.changed", producer="users", trace_id="t", payload={"username": "x"})
    with pytest.raises(KeyError):  # the payload lacks the account fields
        deliver("catalog", broken)

    found = metrics()
    [duplicate] = found["DuplicateDeliveriesSkipped"]
    assert (duplicate["Service"], duplicate["DuplicateDeliveriesSkipped"]) == ("staging-catalog", 1)
    [failure] = found["HandlerFailures"]
    assert (failure["Service"], failure["EventType"]) == ("staging-catalog", "staff.changed")
    assert failure["sets"] == [["Service"], ["Service", "EventType"]]


def test_a_dimension_set_must_name_given_dimensions(settings):
    settings.METRICS_EMBEDDED = True
    with pytest.raises(ValueError, match="Reason"):
        metric_emit(
            name="X", value=1, unit="Count", dimensions={"Service": "s"}, dimension_sets=[["Service", "Reason"]]
        )
