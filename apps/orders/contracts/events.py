"""Events the orders service publishes and subscribes to, with payload schemas (version 1).

Money travels as a decimal string with its currency ("12.50", "EUR"), never a float."""

from __future__ import annotations

from dataclasses import dataclass, field

ORDER_CREATED = "order.created"
ORDER_CONFIRMED = "order.confirmed"
ORDER_CANCELLED = "order.cancelled"
ORDER_SHIPPED = "order.shipped"
PAYMENT_REQUESTED = "payment.requested"
REFUND_REQUESTED = "refund.requested"

PUBLISHES = (
    ORDER_CREATED,
    ORDER_CONFIRMED,
    ORDER_CANCELLED,
    ORDER_SHIPPED,
    PAYMENT_REQUESTED,
    REFUND_REQUESTED,
)
# The saga's answers (catalog's and payments' contracts define them), and staff replication.
SUBSCRIBES = (
    "staff.changed",
    "user.tokens_revoked",
    "stock.reserved",
    "stock.rejected",
    "payment.succeeded",
    "payment.failed",
    "payment.action_required",
    "payment.refunded",
    "payment.refund_failed",
)


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class OrderCreated:
    """Asks catalog to reserve every line, all or none."""

    order_id: str
    order_number: str
    customer_id: str
    lines: list[OrderLine]


@dataclass(frozen=True)
class PaymentRequested:
    order_id: str
    order_number: str
    customer_id: str
    amount: str
    currency: str
    payment_method_token: str
    idempotency_key: str
    # Until when the shopper may complete the payment (3-D Secure, or another method after a
    # decline): ISO 8601; the order is cancelled then. Empty from an older producer.
    pay_by: str = ""


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
    customer_id: str
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


@dataclass(frozen=True)
class OrderCancelled:
    """Catalog releases a reservation it still holds; the shopper is told. Captured money is asked
    back with refund.requested, whose restock lines name the goods to put back when the order
    was already confirmed (catalog had committed the stock)."""

    order_id: str
    order_number: str
    customer_id: str
    email: str
    reason: str
    lines: list[OrderLine]


@dataclass(frozen=True)
class OrderShipped:
    order_id: str
    order_number: str
    customer_id: str
    email: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class RefundRequested:
    order_id: str
    order_number: str
    refund_id: str
    amount: str
    currency: str
    reason: str
    restock: list[OrderLine]
