"""Events the orders service publishes and subscribes to, with payload schemas (versions 1 and 2).

Money travels as a decimal string with its currency ("12.50", "EUR"), never a float.

Version 2 (guest checkout) differs in one thing: `customer_id` may be None, for a guest order (an
order of no account, reached with its access token). Orders publishes an event carrying a
customer_id as version 1 whenever it has one, so a consumer reading only version 1 still gets every
shopper's order, and as version 2 only for a guest order: a consumer that does not read version 2
yet fails it into its dead-letter queue (nothing is lost; redrive it once the consumer is updated)
instead of misreading a None. Consumers deploy first, as always."""

from __future__ import annotations

from dataclasses import dataclass, field

ORDER_CREATED = "order.created"
ORDER_CONFIRMED = "order.confirmed"
ORDER_CANCELLED = "order.cancelled"
ORDER_SHIPPED = "order.shipped"
PAYMENT_REQUESTED = "payment.requested"
REFUND_REQUESTED = "refund.requested"
# Capture at shipment (PAYMENTS_CAPTURE_AT=shipment): take the shipped goods' money, or let the
# authorization go; and the goods of a confirmed order that will never ship, back to stock.
PAYMENT_CAPTURE_REQUESTED = "payment.capture_requested"
PAYMENT_RELEASE_REQUESTED = "payment.release_requested"
ORDER_LINES_CANCELLED = "order.lines_cancelled"
# Goods the shopper sent back from a parcel; those staff put back on the shelf, to restock.
ORDER_LINES_RETURNED = "order.lines_returned"

# The version of an event about a guest order (customer_id None); see the module's docstring.
GUEST_VERSION = 2

PUBLISHES = (
    ORDER_CREATED,
    ORDER_CONFIRMED,
    ORDER_CANCELLED,
    ORDER_SHIPPED,
    PAYMENT_REQUESTED,
    REFUND_REQUESTED,
    PAYMENT_CAPTURE_REQUESTED,
    PAYMENT_RELEASE_REQUESTED,
    ORDER_LINES_CANCELLED,
    ORDER_LINES_RETURNED,
)
# The saga's answers (catalog's and payments' contracts define them), staff replication, and the
# email proof that lets an account claim the guest orders placed with that email.
SUBSCRIBES = (
    "staff.changed",
    "user.tokens_revoked",
    "user.email_verified",
    "stock.reserved",
    "stock.rejected",
    "payment.succeeded",
    "payment.failed",
    "payment.action_required",
    "payment.refunded",
    "payment.refund_failed",
    "payment.authorized",
    "payment.captured",
    "payment.capture_failed",
    "payment.released",
)

# PaymentRequested.capture values: take the money at once, or only authorize it (captured when
# the order ships; payments' contract has the events of both steps).
CAPTURE_AUTOMATIC = "automatic"
CAPTURE_MANUAL = "manual"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class OrderCreated:
    """Asks catalog to reserve every line, all or none."""

    order_id: str
    order_number: str
    customer_id: str | None  # None: a guest order (version 2)
    lines: list[OrderLine]


@dataclass(frozen=True)
class PaymentRequested:
    order_id: str
    order_number: str
    customer_id: str | None  # None: a guest order (version 2)
    amount: str
    currency: str
    payment_method_token: str
    idempotency_key: str
    # Added in version 1 with a default: an older producer's request is captured at once.
    capture: str = CAPTURE_AUTOMATIC
    # Until when the shopper may complete the payment (3-D Secure, or another method after a
    # decline): ISO 8601; the order is cancelled then. Empty from an older producer.
    pay_by: str = ""
    # The SHA-256 (hex) of the order's payment retry key: whoever holds the key (shown in the
    # order's detail, to its owner or the holder of its access token) may pay again at payments,
    # which can check it without orders' signing key. The key itself never travels in an event.
    # Empty from an older producer: only the signed-in shopper may pay again.
    retry_key_sha256: str = ""


@dataclass(frozen=True)
class ConfirmedItem:
    """A line as the confirmation email shows it: `total` is what the shopper paid for it (after
    `discount`; tax included when prices include tax, else before tax)."""

    product_name: str
    variant_name: str
    quantity: int
    unit_price: str
    discount: str
    total: str


@dataclass(frozen=True)
class OrderConfirmed:
    """Catalog commits the reservation (on hand decreases); notifications tells the shopper, with
    the price breakdown (added in version 1 with defaults: older payloads still parse)."""

    order_id: str
    order_number: str
    customer_id: str | None  # None: a guest order (version 2)
    email: str
    total: str
    currency: str
    lines: list[OrderLine]
    items: list[ConfirmedItem] = field(default_factory=list)
    subtotal: str = ""
    discount: str = ""
    shipping: str = ""
    shipping_method: str = ""
    tax: str = ""
    prices_include_tax: bool = False
    # A business buyer in another EU country accounts for the VAT: the email says so, with its number.
    reverse_charge: bool = False
    vat_number: str = ""
    # A guest order's access token (apps.orders.access), sealed with EVENT_SEALING_KEYS
    # (apps.core.sealing) for notifications to link the order page; "" for a shopper's order.
    sealed_access_token: str = ""


@dataclass(frozen=True)
class OrderCancelled:
    """Catalog releases a reservation it still holds; the shopper is told. Captured money is asked
    back with refund.requested, whose restock lines name the goods to put back when the order
    was already confirmed (catalog had committed the stock)."""

    order_id: str
    order_number: str
    customer_id: str | None  # None: a guest order (version 2)
    email: str
    reason: str
    lines: list[OrderLine]
    # A guest order's access token (apps.orders.access), sealed with EVENT_SEALING_KEYS
    # (apps.core.sealing) for notifications to link the order page; "" for a shopper's order.
    sealed_access_token: str = ""


@dataclass(frozen=True)
class OrderShipped:
    """One parcel left (the shopper is told, with its tracking). The parcel fields were added in
    version 1 with defaults: an older payload is one parcel with everything in it."""

    order_id: str
    order_number: str
    customer_id: str | None  # None: a guest order (version 2)
    email: str
    carrier: str
    tracking_number: str
    shipment_id: str = ""
    parcel_number: int = 1
    tracking_url: str = ""
    lines: list[OrderLine] = field(default_factory=list)
    # False while some goods of the order are still to ship.
    complete: bool = True
    # A guest order's access token (apps.orders.access), sealed with EVENT_SEALING_KEYS
    # (apps.core.sealing) for notifications to link the order page; "" for a shopper's order.
    sealed_access_token: str = ""


@dataclass(frozen=True)
class RefundRequested:
    order_id: str
    order_number: str
    refund_id: str
    amount: str
    currency: str
    reason: str
    restock: list[OrderLine]


@dataclass(frozen=True)
class PaymentCaptureRequested:
    """Take `amount` of the order's authorization (the goods shipped, with their tax and the
    shipping); the rest of it is let go. `request_id` is the idempotency key at the provider."""

    order_id: str
    order_number: str
    request_id: str
    amount: str
    currency: str
    reason: str


@dataclass(frozen=True)
class PaymentReleaseRequested:
    """Let the whole authorization go (the order was cancelled before anything shipped)."""

    order_id: str
    order_number: str
    request_id: str
    reason: str


@dataclass(frozen=True)
class OrderLinesCancelled:
    """Goods of a confirmed order that will never ship and were not refunded (nothing was
    captured for them): catalog puts them back on the shelf, once per `cancellation_id`."""

    order_id: str
    order_number: str
    cancellation_id: str
    lines: list[OrderLine]


@dataclass(frozen=True)
class OrderLinesReturned:
    """Goods the shopper sent back from parcel `parcel_number` (`lines`, every returned unit);
    catalog puts `restock` (those fit to sell again) back on the shelf, once per `return_id`. A
    refund for them, if any, travels separately as refund.requested, without restock lines."""

    order_id: str
    order_number: str
    return_id: str
    parcel_number: int
    lines: list[OrderLine]
    restock: list[OrderLine]
