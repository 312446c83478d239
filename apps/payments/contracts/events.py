"""Events the payments service publishes and subscribes to, with payload schemas (versions 1 and 2;
fields added later have defaults, so a reader of an older payload still parses it).

Money travels as a decimal string with its currency ("12.50", "EUR"), never a float.

Version 2 (guest checkout) differs in one thing: `customer_id` may be None, for a guest order's
payment. As orders does with its own events, payments publishes version 1 whenever the payment has
a customer and version 2 only for a guest's; it reads payment.requested in both versions."""

from __future__ import annotations

from dataclasses import dataclass

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_ACTION_REQUIRED = "payment.action_required"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_REFUND_FAILED = "payment.refund_failed"
# Authorize now, capture later (orders' payment.requested with capture "manual").
PAYMENT_AUTHORIZED = "payment.authorized"
PAYMENT_CAPTURED = "payment.captured"
PAYMENT_CAPTURE_FAILED = "payment.capture_failed"
PAYMENT_RELEASED = "payment.released"

# Inbound, from orders' contract (names repeated here: a contract imports no other contract).
PAYMENT_REQUESTED = "payment.requested"
REFUND_REQUESTED = "refund.requested"
PAYMENT_CAPTURE_REQUESTED = "payment.capture_requested"
PAYMENT_RELEASE_REQUESTED = "payment.release_requested"

PUBLISHES = (
    PAYMENT_SUCCEEDED,
    PAYMENT_FAILED,
    PAYMENT_ACTION_REQUIRED,
    PAYMENT_REFUNDED,
    PAYMENT_REFUND_FAILED,
    PAYMENT_AUTHORIZED,
    PAYMENT_CAPTURED,
    PAYMENT_CAPTURE_FAILED,
    PAYMENT_RELEASED,
)
SUBSCRIBES = (
    "staff.changed",
    "user.tokens_revoked",
    PAYMENT_REQUESTED,
    REFUND_REQUESTED,
    PAYMENT_CAPTURE_REQUESTED,
    PAYMENT_RELEASE_REQUESTED,
)

# The version of an event about a guest order's payment (customer_id None).
GUEST_VERSION = 2

# PaymentFailed.reason_code values.
REASON_DECLINED = "declined"
REASON_INSUFFICIENT_FUNDS = "insufficient_funds"
REASON_INVALID_PAYMENT_METHOD = "invalid_payment_method"
REASON_PROVIDER_ERROR = "provider_error"
REASON_AUTHENTICATION_FAILED = "authentication_failed"
# The order's time to pay passed with the shopper's action unfinished: the attempt is closed at the
# provider. Orders cancels the order for its deadline and that cancellation is what tells the
# shopper, so this failure is no news to them (notifications sends nothing for it).
REASON_EXPIRED = "expired"

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

# PaymentCaptureFailed.reason_code values.
CAPTURE_REASON_NOT_AUTHORIZED = "not_authorized"  # no authorization held (none, captured, released)
CAPTURE_REASON_INVALID_AMOUNT = "invalid_amount"  # not positive, over the authorization, another currency
CAPTURE_REASON_AUTHORIZATION_EXPIRED = "authorization_expired"
CAPTURE_REASON_PROVIDER_DECLINED = "provider_declined"
CAPTURE_REASON_PROVIDER_ERROR = "provider_error"


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
    customer_id: str | None  # None: a guest order's payment (version 2)
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


@dataclass(frozen=True)
class PaymentAuthorized:
    """The provider holds `amount` on the shopper's card, not yet taken (capture "manual"):
    orders confirms the order and asks for the capture when it ships."""

    order_id: str
    payment_id: str
    amount: str
    currency: str


@dataclass(frozen=True)
class PaymentCaptured:
    """`amount` of the authorization was taken (capture_id: the request orders made, or
    "provider:<id>" for a capture made at the provider); `released` is what was let go with it."""

    order_id: str
    payment_id: str
    capture_id: str
    amount: str
    currency: str
    released: str


@dataclass(frozen=True)
class PaymentCaptureFailed:
    """A capture (or the authorization it needed) failed: nothing was taken. `capture_id` is
    empty when the authorization expired or was cancelled at the provider unasked."""

    order_id: str
    payment_id: str
    capture_id: str
    amount: str
    currency: str
    reason_code: str  # not_authorized | invalid_amount | authorization_expired | provider_*
    message: str


@dataclass(frozen=True)
class PaymentReleased:
    """The whole authorization was let go (cancelled at the provider); nothing was taken."""

    order_id: str
    payment_id: str
    release_id: str
    amount: str
    currency: str
