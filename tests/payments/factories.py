"""Test data for the payments service: event payloads and envelopes from orders, and payments in
a given state, made through the services so they are real."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from apps.core.events.envelope import Envelope
from apps.orders.contracts import events as orders_contract
from apps.payments.models import Charge, PaymentIntent


def payment_requested_payload(**overrides: Any) -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    return {
        "order_id": order_id,
        "order_number": "SS-" + order_id[:8].upper(),
        "customer_id": str(uuid.uuid4()),
        "amount": "49.90",
        "currency": "EUR",
        "payment_method_token": "tok_visa",
        "idempotency_key": f"order-{order_id}-payment",
        **overrides,
    }


def refund_requested_payload(*, order_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "order_number": "SS-REFUND",
        "refund_id": str(uuid.uuid4()),
        "amount": "10.00",
        "currency": "EUR",
        "reason": "Damaged in transit",
        "restock": [],
        **overrides,
    }


def envelope(event_type: str, payload: dict[str, Any], *, producer: str = "orders") -> Envelope:
    return Envelope(type=event_type, producer=producer, payload=payload, trace_id=uuid.uuid4().hex)


def payment_requested(**overrides: Any) -> Envelope:
    return envelope(orders_contract.PAYMENT_REQUESTED, payment_requested_payload(**overrides))


def refund_requested(*, order_id: str, **overrides: Any) -> Envelope:
    return envelope(orders_contract.REFUND_REQUESTED, refund_requested_payload(order_id=order_id, **overrides))


def captured_payment(
    *, amount: str = "49.90", currency: str = "EUR", customer_id: uuid.UUID | None = None
) -> PaymentIntent:
    """A succeeded payment with its charge, written directly (no provider call, no events)."""
    order_id = uuid.uuid4()
    intent = PaymentIntent.objects.create(
        order_id=order_id,
        order_number="SS-" + str(order_id)[:8].upper(),
        customer_id=customer_id or uuid.uuid4(),
        amount=Decimal(amount),
        currency=currency,
        status=PaymentIntent.Status.SUCCEEDED,
        idempotency_key=f"order-{order_id}",
        provider="sandbox",
        provider_charge_id=f"ch_test_{order_id.hex[:12]}",
        card_brand="visa",
        card_last4="4242",
        attempts=1,
    )
    Charge.objects.create(
        intent=intent,
        provider="sandbox",
        provider_charge_id=intent.provider_charge_id,
        amount=intent.amount,
        currency=currency,
    )
    return intent
