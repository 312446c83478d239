"""The notifications service publishes nothing; it subscribes to the events it tells shoppers of
(and to the user events that keep its copy of each shopper's address current)."""

from __future__ import annotations

PUBLISHES: tuple[str, ...] = ()
SUBSCRIBES = (
    "staff.changed",
    "user.tokens_revoked",
    "user.registered",
    "user.updated",
    "user.password_reset_requested",
    "user.email_verification_requested",
    "order.confirmed",
    "order.cancelled",
    "order.shipped",
    "payment.failed",
    "payment.refunded",
)
