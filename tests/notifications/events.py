"""Sample events, published the way their producers publish them (outbox + relay after commit),
or handed to the notifications handler alone (deliver) where other services' handlers would also
react to the sample and are not under test here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from apps.core.db import atomic
from apps.core.events import Envelope, publish
from apps.core.events.envelope import to_jsonable
from apps.core.events.handlers import deliver
from apps.core.sealing import seal
from apps.orders.contracts import events as orders
from apps.payments.contracts import events as payments
from apps.users.contracts import events as users


def published(*, producer: str, event_type: str, payload: Any) -> Envelope:
    """Publish from inside the producer's transaction; subscribers run after it commits."""
    with atomic(producer):
        return publish(producer=producer, event_type=event_type, payload=payload)


def envelope(event_type: str, payload: Any, *, producer: str, occurred_at: datetime | None = None) -> Envelope:
    return Envelope(
        type=event_type,
        producer=producer,
        payload=to_jsonable(payload),
        trace_id=uuid.uuid4().hex,
        occurred_at=occurred_at or datetime.now(UTC),
    )


def delivered(event: Envelope) -> bool:
    return deliver("notifications", event)


def user_registered(**overrides: Any) -> users.UserRegistered:
    values = {
        "customer_id": str(uuid.uuid4()),
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+49 30 1234567",
        **overrides,
    }
    return users.UserRegistered(**values)


def user_updated(registered: users.UserRegistered, **overrides: Any) -> users.UserUpdated:
    values = {
        "customer_id": registered.customer_id,
        "email": registered.email,
        "first_name": registered.first_name,
        "last_name": registered.last_name,
        "phone": registered.phone,
        "is_active": True,
        **overrides,
    }
    return users.UserUpdated(**values)


def password_reset_requested(
    customer_id: str, *, reset_url: str = "http://localhost:8000/reset-password?token=s3cr3t-t0ken", **overrides: Any
) -> users.PasswordResetRequested:
    values = {
        "customer_id": customer_id,
        "email": "ada@example.com",
        "first_name": "Ada",
        "sealed_reset_url": seal(reset_url),
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        **overrides,
    }
    return users.PasswordResetRequested(**values)


ORDER_ID = "0b9f3a0e-8d43-4a8e-9f0a-5b1c2d3e4f50"


def order_confirmed(customer_id: str, **overrides: Any) -> orders.OrderConfirmed:
    values = {
        "order_id": ORDER_ID,
        "order_number": "SS-1001",
        "customer_id": customer_id,
        "email": "ada@example.com",
        "total": "59.80",
        "currency": "EUR",
        "lines": [orders.OrderLine(sku="MUG-BLUE", quantity=2), orders.OrderLine(sku="TEE-M", quantity=1)],
        **overrides,
    }
    return orders.OrderConfirmed(**values)


def order_cancelled(customer_id: str, **overrides: Any) -> orders.OrderCancelled:
    values = {
        "order_id": ORDER_ID,
        "order_number": "SS-1001",
        "customer_id": customer_id,
        "email": "ada@example.com",
        "reason": "stock_rejected",
        "lines": [orders.OrderLine(sku="MUG-BLUE", quantity=2)],
        **overrides,
    }
    return orders.OrderCancelled(**values)


def order_shipped(customer_id: str, **overrides: Any) -> orders.OrderShipped:
    values = {
        "order_id": ORDER_ID,
        "order_number": "SS-1001",
        "customer_id": customer_id,
        "email": "ada@example.com",
        "carrier": "DHL",
        "tracking_number": "JD014600006281230",
        **overrides,
    }
    return orders.OrderShipped(**values)


def payment_failed(customer_id: str, **overrides: Any) -> payments.PaymentFailed:
    values = {
        "order_id": ORDER_ID,
        "payment_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "reason_code": "insufficient_funds",
        "message": "Card has insufficient funds (provider code 51)",
        **overrides,
    }
    return payments.PaymentFailed(**values)


def payment_refunded(customer_id: str, **overrides: Any) -> payments.PaymentRefunded:
    values = {
        "order_id": ORDER_ID,
        "payment_id": str(uuid.uuid4()),
        "refund_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "amount": "19.90",
        "currency": "EUR",
        **overrides,
    }
    return payments.PaymentRefunded(**values)
