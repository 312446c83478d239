"""A guest order's payment (payment.requested version 2, customer_id None): charged like any
other, recorded with no customer, and announced as version 2 with customer_id None; a version 1
request keeps publishing version 1."""

from __future__ import annotations

import dataclasses

import pytest

from apps.core.events import Envelope
from apps.core.events.handlers import deliver
from apps.orders.contracts import events as orders_contract
from apps.payments.models import OutboxEvent, PaymentIntent
from tests.payments import factories
from tests.payments.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def guest_request(**overrides) -> Envelope:
    envelope = factories.payment_requested(customer_id=None, **overrides)
    return dataclasses.replace(envelope, version=orders_contract.GUEST_VERSION)


def test_a_guest_orders_payment_is_charged_and_announced_as_version_2():
    envelope = guest_request(payment_method_token="tok_visa")

    assert deliver("payments", envelope) is True

    intent = PaymentIntent.objects.get(order_id=envelope.payload["order_id"])
    assert intent.status == PaymentIntent.Status.SUCCEEDED and intent.customer_id is None
    assert [event["order_id"] for event in events("payment.succeeded")] == [str(intent.order_id)]


def test_a_guest_orders_declined_payment_names_no_customer():
    envelope = guest_request(payment_method_token="tok_decline")

    deliver("payments", envelope)

    [failed] = events("payment.failed")
    assert failed["customer_id"] is None
    assert OutboxEvent.objects.get(event_type="payment.failed").version == 2


def test_a_shoppers_declined_payment_stays_version_1():
    envelope = factories.payment_requested(payment_method_token="tok_decline")

    deliver("payments", envelope)

    row = OutboxEvent.objects.get(event_type="payment.failed")
    assert row.version == 1 and row.payload["customer_id"] == envelope.payload["customer_id"]
