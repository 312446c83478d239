"""Events the payments service publishes and subscribes to, with payload schemas (version 1)."""

from __future__ import annotations

from dataclasses import dataclass

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"

PUBLISHES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_REFUNDED)
SUBSCRIBES = ("staff.changed",)


@dataclass(frozen=True)
class PaymentSucceeded:
    order_id: str
    payment_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentFailed:
    order_id: str
    payment_id: str
    customer_id: str
    reason_code: str  # declined | insufficient_funds | provider_error
    message: str


@dataclass(frozen=True)
class PaymentRefunded:
    order_id: str
    payment_id: str
    refund_id: str
    customer_id: str
    amount: str
    currency: str
