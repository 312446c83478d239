"""Events the payments service publishes and subscribes to, with payload schemas (all version 1;
fields added later have defaults, so a reader of an older payload still parses it).

Money travels as a decimal string with its currency ("12.50", "EUR"), never a float."""

from __future__ import annotations

from dataclasses import dataclass

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_ACTION_REQUIRED = "payment.action_required"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_REFUND_FAILED = "payment.refund_failed"

# Inbound, from orders' contract (names repeated here: a contract imports no other contract).
PAYMENT_REQUESTED = "payment.requested"
REFUND_REQUESTED = "refund.requested"

PUBLISHES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_ACTION_REQUIRED, PAYMENT_REFUNDED, PAYMENT_REFUND_FAILED)
SUBSCRIBES = ("staff.changed", "user.tokens_revoked", PAYMENT_REQUESTED, REFUND_REQUESTED)

# PaymentFailed.reason_code values.
REASON_DECLINED = "declined"
REASON_INSUFFICIENT_FUNDS = "insufficient_funds"
REASON_INVALID_PAYMENT_METHOD = "invalid_payment_method"
REASON_PROVIDER_ERROR = "provider_error"
REASON_AUTHENTICATION_FAILED = "authentication_failed"

# PaymentActionRequired.next_action_type values (Stripe's): the shopper's browser is sent to
# redirect_url, or a client with Stripe.js handles the action itself with the client secret.
NEXT_ACTION_REDIRECT = "redirect_to_url"
NEXT_ACTION_STRIPE_SDK = "use_stripe_sdk"

# PaymentRefundFailed.reason_code values.
REFUND_REASON_NOT_CAPTURED = "not_captured"
REFUND_REASON_EXCEEDS_CAPTURE = "exceeds_capture"
REFUND_REASON_CURRENCY_MISMATCH = "currency_mismatch"
REFUND_REASON_INVALID_AMOUNT = "invalid_amount"
REFUND_REASON_PROVIDER_DECLINED = "provider_declined"
REFUND_REASON_PROVIDER_ERROR = "provider_error"
REASON_AUTHENTICATION_FAILED = "authentication_failed"

# PaymentActionRequired.next_action_type values (Stripe's): the shopper's browser is sent to
# redirect_url, or a client with Stripe.js handles the action itself with the client secret.
NEXT_ACTION_REDIRECT = "redirect_to_url"
NEXT_ACTION_STRIPE_SDK = "use_stripe_sdk"


@dataclass(frozen=True)
class PaymentSucceeded:
    order_id: str
    payment_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentFailed:
    """An attempt failed. The order may be paid again with another method until its deadline
    (`attempt` counts the tries: an older attempt's failure after a newer one is stale)."""

    order_id: str
    payment_id: str
    customer_id: str
    # declined | insufficient_funds | invalid_payment_method | authentication_failed | provider_error
    reason_code: str
    message: str
    attempt: int = 1
    failure_code: str = ""  # the provider's own code (expired_card, card_declined, ...)


@dataclass(frozen=True)
class PaymentActionRequired:
    """The provider needs the shopper (3-D Secure) before it takes the money: the shopper's
    client completes the action with `client_secret` (Stripe.js) or by sending the browser to
    `redirect_url`; the provider then sends the shopper back to `return_url` (payments' return
    endpoint), and the outcome follows as payment.succeeded or payment.failed."""

    order_id: str
    payment_id: str
    attempt: int
    client_secret: str
    next_action_type: str  # redirect_to_url | use_stripe_sdk
    redirect_url: str
    return_url: str


@dataclass(frozen=True)
class PaymentRefunded:
    """A refund went through. `refund_id` is the one orders asked for in refund.requested, or, for
    a refund made at the provider directly (its dashboard; learnt by webhook), "provider:<id>"."""

    order_id: str
    payment_id: str
    refund_id: str
    customer_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentRefundFailed:
    """A requested refund was refused or failed; nothing was refunded. `payment_id` is empty
    when payments holds no payment for the order."""

    order_id: str
    payment_id: str
    refund_id: str
    customer_id: str
    amount: str
    currency: str
    reason_code: str  # not_captured | exceeds_capture | currency_mismatch | invalid_amount | provider_*
    message: str
