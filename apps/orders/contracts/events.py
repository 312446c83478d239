"""Events the orders service publishes and subscribes to, with payload schemas (version 1)."""

from __future__ import annotations

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
SUBSCRIBES = ("staff.changed",)
