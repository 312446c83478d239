"""Inbound events of the orders service: the checkout saga's answers from catalog and payments, and
users' proof of an email address (its guest orders join the account).
Thin: each reads its payload and calls a service. Delivery runs each in one transaction with its
inbox row (apps.core.events.handlers.deliver), and the services check the order's state, so a
redelivered or late event has no second effect.

A payload that can never be handled (a missing field, an id or amount that does not parse) is
logged and dropped rather than raised: raising would only be retried into the dead-letter queue
over SQS, and would hold up the producer's outbox in the all-in-one shape. Only the parsing is
guarded; an error inside a service still raises, rolls back and is retried."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.catalog.contracts import events as catalog_events
from apps.core.events import Envelope, event_handler
from apps.orders.services import capture_saga, guest, saga
from apps.payments.contracts import events as payment_events
from apps.users.contracts import events as user_events

logger = logging.getLogger(__name__)

SERVICE = "orders"
# Payments' version 2 (a guest order's payment: customer_id None) reads the same: orders goes by order_id.
PAYMENTS_VERSIONS = (1, payment_events.GUEST_VERSION)


def _parsed(envelope: Envelope, build: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        return build(envelope.payload)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        logger.error(
            "%s %s has an unusable payload (%r); dropped",
            envelope.type,
            envelope.id,
            error,
            extra={"event_id": str(envelope.id), "event_type": envelope.type},
        )
        return None


def _order_id(payload: dict[str, Any]) -> str:
    return str(uuid.UUID(str(payload["order_id"])))


def _amount(value: Any) -> Decimal:
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    return amount


@event_handler(SERVICE, catalog_events.STOCK_RESERVED)
def on_stock_reserved(envelope: Envelope) -> None:
    if (kwargs := _parsed(envelope, lambda p: {"order_id": _order_id(p)})) is not None:
        saga.saga_stock_reserved(**kwargs)


@event_handler(SERVICE, catalog_events.STOCK_REJECTED)
def on_stock_rejected(envelope: Envelope) -> None:
    if (kwargs := _parsed(envelope, lambda p: {"order_id": _order_id(p)})) is not None:
        saga.saga_stock_rejected(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_SUCCEEDED, versions=PAYMENTS_VERSIONS)
def on_payment_succeeded(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "payment_id": str(p["payment_id"]),
            "amount": _amount(p["amount"]),
            "currency": str(p["currency"]),
        },
    )
    if kwargs is not None:
        saga.saga_payment_succeeded(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_FAILED, versions=PAYMENTS_VERSIONS)
def on_payment_failed(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "reason_code": str(p["reason_code"]),
            "attempt": int(p.get("attempt") or 1),
            "failure_code": str(p.get("failure_code") or "")[:50],
            "message": str(p.get("message") or "")[:255],
        },
    )
    if kwargs is not None:
        saga.saga_payment_failed(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_ACTION_REQUIRED)
def on_payment_action_required(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "attempt": int(p["attempt"]),
            "client_secret": str(p["client_secret"])[:255],
            "next_action_type": str(p["next_action_type"])[:50],
            "redirect_url": str(p.get("redirect_url") or "")[:2000],
            "return_url": str(p.get("return_url") or "")[:2000],
        },
    )
    if kwargs is not None:
        saga.saga_payment_action_required(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_REFUNDED, versions=PAYMENTS_VERSIONS)
def on_payment_refunded(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "refund_id": str(p["refund_id"]),
            "amount": _amount(p["amount"]),
            "currency": str(p["currency"]),
        },
    )
    if kwargs is not None:
        saga.saga_payment_refunded(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_REFUND_FAILED, versions=PAYMENTS_VERSIONS)
def on_payment_refund_failed(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "refund_id": str(p["refund_id"]),
            "reason_code": str(p.get("reason_code") or "unknown"),
        },
    )
    if kwargs is not None:
        saga.saga_refund_failed(**kwargs)


@event_handler(SERVICE, user_events.EMAIL_VERIFIED)
def on_email_verified(envelope: Envelope) -> None:
    kwargs = _parsed(envelope, lambda p: {"customer_id": uuid.UUID(str(p["customer_id"])), "email": str(p["email"])})
    if kwargs is not None:
        guest.guest_orders_claim(**kwargs)


def _money_event(p: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": _order_id(p), "amount": _amount(p["amount"]), "currency": str(p["currency"])}


@event_handler(SERVICE, payment_events.PAYMENT_AUTHORIZED)
def on_payment_authorized(envelope: Envelope) -> None:
    kwargs = _parsed(envelope, lambda p: {**_money_event(p), "payment_id": str(p["payment_id"])})
    if kwargs is not None:
        capture_saga.saga_payment_authorized(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_CAPTURED)
def on_payment_captured(envelope: Envelope) -> None:
    kwargs = _parsed(envelope, lambda p: {**_money_event(p), "capture_id": str(p["capture_id"])})
    if kwargs is not None:
        capture_saga.saga_payment_captured(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_CAPTURE_FAILED)
def on_payment_capture_failed(envelope: Envelope) -> None:
    kwargs = _parsed(
        envelope,
        lambda p: {
            "order_id": _order_id(p),
            "capture_id": str(p.get("capture_id") or ""),
            "reason_code": str(p.get("reason_code") or "unknown"),
            "message": str(p.get("message") or ""),
        },
    )
    if kwargs is not None:
        capture_saga.saga_payment_capture_failed(**kwargs)


@event_handler(SERVICE, payment_events.PAYMENT_RELEASED)
def on_payment_released(envelope: Envelope) -> None:
    if (kwargs := _parsed(envelope, lambda p: {"order_id": _order_id(p)})) is not None:
        capture_saga.saga_payment_released(**kwargs)
