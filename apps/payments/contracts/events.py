"""Events the payments service publishes and subscribes to, with payload schemas (versions 1 and 2).

Money travels as a decimal string with its currency ("12.50", "EUR"), never a float.

Version 2 (guest checkout) differs in one thing: `customer_id` may be None, for a guest order's
payment. As orders does with its own events, payments publishes version 1 whenever the payment has
a customer and version 2 only for a guest's; it reads payment.requested in both versions."""

from __future__ import annotations

from dataclasses import dataclass

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_REFUND_FAILED = "payment.refund_failed"

# Inbound, from orders' contract (names repeated here: a contract imports no other contract).
PAYMENT_REQUESTED = "payment.requested"
REFUND_REQUESTED = "refund.requested"

PUBLISHES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_REFUNDED, PAYMENT_REFUND_FAILED)
SUBSCRIBES = ("staff.changed", "user.tokens_revoked", PAYMENT_REQUESTED, REFUND_REQUESTED)

# The version of an event about a guest order's payment (customer_id None).
GUEST_VERSION = 2

# PaymentFailed.reason_code values.
REASON_DECLINED = "declined"
REASON_INSUFFICIENT_FUNDS = "insufficient_funds"
REASON_INVALID_PAYMENT_METHOD = "invalid_payment_method"
REASON_PROVIDER_ERROR = "provider_error"

# PaymentRefundFailed.reason_code values.
REFUND_REASON_NOT_CAPTURED = "not_captured"
REFUND_REASON_EXCEEDS_CAPTURE = "exceeds_capture"
REFUND_REASON_CURRENCY_MISMATCH = "currency_mismatch"
REFUND_REASON_INVALID_AMOUNT = "invalid_amount"
REFUND_REASON_PROVIDER_DECLINED = "provider_declined"
REFUND_REASON_PROVIDER_ERROR = "provider_error"


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
    customer_id: str | None  # None: a guest order's payment (version 2)
    reason_code: str  # declined | insufficient_funds | invalid_payment_method | provider_error
    message: str


@dataclass(frozen=True)
class PaymentRefunded:
    """A refund went through. `refund_id` is the one orders asked for in refund.requested, or, for
    a refund made at the provider directly (its dashboard; learnt by webhook), "provider:<id>"."""

    order_id: str
    payment_id: str
    refund_id: str
    customer_id: str | None  # None: a guest order's payment (version 2)
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentRefundFailed:
    """A requested refund was refused or failed; nothing was refunded. `payment_id` is empty
    when payments holds no payment for the order."""

    order_id: str
    payment_id: str
    refund_id: str
    customer_id: str | None  # None: a guest order's payment (version 2)
    amount: str
    currency: str
    reason_code: str  # not_captured | exceeds_capture | currency_mismatch | invalid_amount | provider_*
    message: str
