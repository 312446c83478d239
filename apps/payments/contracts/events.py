"""Events the payments service publishes and subscribes to, with payload schemas (version 1)."""

from __future__ import annotations

PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"

PUBLISHES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, PAYMENT_REFUNDED)
SUBSCRIBES = ("staff.changed",)
