"""Capture at shipment, payments' answers (called by handlers.py): the card authorized (the order is
confirmed, as a capture confirms it), the shipped goods captured, a capture that failed or an
authorization that expired (recorded on the order for staff), and an authorization released.
Each step reads the order's state under its lock, so a late or repeated event changes nothing."""

from __future__ import annotations

import logging
from decimal import Decimal

from apps.core.db import atomic
from apps.orders.models import PaymentStatus
from apps.orders.services.authorizations import authorization_release
from apps.orders.services.cancellation import order_cancel_locked
from apps.orders.services.refunds import order_refund_all_captured
from apps.orders.services.saga import _ignored, _saga_order, order_confirm
from apps.orders.services.saga_metrics import order_paid_report
from apps.orders.services.transitions import AWAITING_PAYMENT_STATUSES, SERVICE, S

logger = logging.getLogger(__name__)
# Once captured (and perhaps refunded since), no later answer about the authorization counts.
SETTLED = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def saga_payment_authorized(*, order_id: str, payment_id: str, amount: Decimal, currency: str) -> None:
    """The card holds the order's total: confirm it (stock committed, the shopper told). An
    authorization of another amount cancels the order; one for a cancelled order is released."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.authorized")
        if order is None:
            return
        if order.payment_id == payment_id and order.amount_authorized > 0:
            _ignored(order, "payment.authorized")
            return
        order.payment_id = payment_id
        order.amount_authorized = amount
        order.payment_status = PaymentStatus.AUTHORIZED
        order.payment_method_token = ""  # the payment is decided: no credential kept
        order.payment_action = {}
        order.save(
            update_fields=[
                "payment_id",
                "amount_authorized",
                "payment_status",
                "payment_method_token",
                "payment_action",
                "updated_at",
            ]
        )
        order_paid_report(order)  # the money is held: the saga's payment step is done
        awaiting = order.status in AWAITING_PAYMENT_STATUSES
        if awaiting and currency == order.currency and amount == order.total:
            order_confirm(order, reason="payment authorized (captured at shipment)")
        elif awaiting:
            order_cancel_locked(order, reason="payment_mismatch", actor="event:payments")
        elif order.status == S.CANCELLED:
            authorization_release(order, reason="authorized after cancellation")
        else:
            _ignored(order, "payment.authorized")


def saga_payment_captured(*, order_id: str, capture_id: str, amount: Decimal, currency: str) -> None:
    """The shipped goods were paid for: the captured amount counts for refunds and the money
    invariant. Captured for an order cancelled meanwhile, it is given back at once."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.captured")
        if order is None:
            return
        if order.payment_status in SETTLED:
            _ignored(order, "payment.captured")
            return
        if currency != order.currency:
            logger.error(
                "capture %s for order %s in %s, order is in %s", capture_id, order.number, currency, order.currency
            )
        order.amount_captured += amount
        order.payment_status = PaymentStatus.CAPTURED
        order.payment_issue = ""
        order.save(update_fields=["amount_captured", "payment_status", "payment_issue", "updated_at"])
        if order.status == S.CANCELLED:
            order_refund_all_captured(order, reason="payment captured after cancellation", actor="event:payments")


def saga_payment_capture_failed(*, order_id: str, capture_id: str, reason_code: str, message: str) -> None:
    """Nothing was taken (the capture was refused, or the authorization expired): the order keeps
    its status and says why on its page (payment_issue) and in the list filter; staff act."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.capture_failed")
        if order is None:
            return
        if order.payment_status in SETTLED or order.payment_status == PaymentStatus.RELEASED:
            _ignored(order, "payment.capture_failed")
            return
        order.payment_status = PaymentStatus.CAPTURE_FAILED
        order.payment_issue = f"{reason_code}: {message}"[:255]
        order.save(update_fields=["payment_status", "payment_issue", "updated_at"])
        logger.error(
            "capture %s of order %s failed: %s",
            capture_id or "(none)",
            order.number,
            reason_code,
            extra={"order_id": str(order.id)},
        )


def saga_payment_released(*, order_id: str) -> None:
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.released")
        if order is None:
            return
        if order.payment_status in SETTLED:
            _ignored(order, "payment.released")
            return
        order.payment_status = PaymentStatus.RELEASED
        order.save(update_fields=["payment_status", "updated_at"])
