"""The checkout saga's inbound steps (called by handlers.py) and its timeout: stock reserved or
rejected, payment captured, waiting for the shopper, failed or refunded, and the sweep of steps
that waited too long and of payments past their deadline.

The shopper is present for the payment: when the provider asks for 3-D Secure, or an attempt
fails, the order waits in payment_action_required with its stock held, and the shopper may
authenticate or pay again with another method (at payments) until payment_deadline; then the
order is cancelled, the stock released and the shopper told (order.cancelled).

Each step runs in its handler's inbox transaction with no savepoint of its own (a savepoint is
two round trips): an error in a step rolls back the whole delivery, savepoint or not. The step
locks the order first (order_lock) and moves it with order_transition_locked, which trusts the
status read under that lock (no second read, no savepoint) and saves the step's other fields in
the same UPDATE."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.core.db import atomic
from apps.orders.contracts import events as contract
from apps.orders.models import Order, OrderLine, PaymentStatus, Refund
from apps.orders.pricing.money import money_str
from apps.orders.services.authorizations import payment_capture_mode
from apps.orders.services.cancellation import order_cancel_locked
from apps.orders.services.refunds import order_refund_all_captured
from apps.orders.services.saga_metrics import order_paid_report, order_span_tag
from apps.orders.services.transitions import (
    ALLOWED_TRANSITIONS,
    AWAITING_PAYMENT_STATUSES,
    SERVICE,
    SYSTEM_ACTOR,
    WAITING_STATUSES,
    S,
    contract_customer_id,
    contract_sealed_access_token,
    event_publish,
    order_lock,
    order_transition,
    order_transition_locked,
)
from apps.payments.contracts import events as payment_events

logger = logging.getLogger(__name__)


def payment_idempotency_key(order: Order) -> str:
    """Deterministic per order: a redelivered stock.reserved, or a second request for the same
    order, can never charge the shopper twice."""
    return f"order-{order.id}-payment"


def _payment_action(order: Order, **fields: Any) -> dict[str, Any]:
    """What payments last said about the attempt, keeping the order's retry key (made when the
    payment was asked for) for as long as the order can be paid."""
    retry_key = order.payment_action.get("retry_key")
    return {**fields, "retry_key": retry_key} if retry_key else fields


def _saga_order(order_id: str, event_type: str) -> Order | None:
    order = order_lock(order_id)
    if order is None:
        # Not ours (another environment's event) or a bug upstream; retrying cannot help.
        logger.warning("%s for unknown order %s ignored", event_type, order_id, extra={"order_id": order_id})
    else:
        order_span_tag(order)
    return order


def _ignored(order: Order, event_type: str) -> None:
    # Redelivery or a step that arrives after the saga moved on: the state check makes it a no-op.
    logger.info(
        "%s ignored for order %s in status %s",
        event_type,
        order.number,
        order.status,
        extra={"order_id": str(order.id)},
    )


def saga_stock_reserved(*, order_id: str) -> None:
    """Stock is held: ask payments to capture."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "stock.reserved")
        if order is None:
            return
        if order.status != S.PENDING:
            _ignored(order, "stock.reserved")
            return
        order.payment_status = PaymentStatus.REQUESTED
        # The shopper's key for paying again at payments (a guest has no account payments could
        # check): kept here, shown only in the order's detail; payments gets its SHA-256.
        retry_key = secrets.token_urlsafe(32)
        order.payment_action = {"retry_key": retry_key}
        # The deadline counts from the transition's moment; all of it is one UPDATE.
        now = timezone.now()
        order.payment_deadline = now + timedelta(seconds=settings.ORDERS_PAYMENT_ACTION_SECONDS)
        order_transition_locked(
            order=order,
            to=S.STOCK_RESERVED,
            reason="stock reserved",
            actor="event:catalog",
            now=now,
            also_save=("payment_status", "payment_deadline", "payment_action"),
        )
        event_publish(
            contract.PAYMENT_REQUESTED,
            contract.PaymentRequested(
                order_id=str(order.id),
                order_number=order.number,
                customer_id=contract_customer_id(order),
                amount=money_str(order.total, order.currency),
                currency=order.currency,
                payment_method_token=order.payment_method_token,
                idempotency_key=payment_idempotency_key(order),
                capture=payment_capture_mode(),
                pay_by=order.payment_deadline.isoformat(),
                retry_key_sha256=hashlib.sha256(retry_key.encode()).hexdigest(),
            ),
        )


def saga_stock_rejected(*, order_id: str) -> None:
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "stock.rejected")
        if order is None:
            return
        if order.status != S.PENDING:
            _ignored(order, "stock.rejected")
            return
        order_cancel_locked(order, reason="out_of_stock", actor="event:catalog")


def saga_payment_succeeded(*, order_id: str, payment_id: str, amount: Decimal, currency: str) -> None:
    """Payment captured: confirm the order. A capture for an order that was cancelled meanwhile
    (timeout, shopper) is recorded and refunded at once."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "payment.succeeded")
        if order is None:
            return
        if order.payment_id == payment_id and order.amount_captured > 0:
            _ignored(order, "payment.succeeded")
            return
        if currency != order.currency:
            logger.error(
                "payment %s for order %s in %s, order is in %s", payment_id, order.number, currency, order.currency
            )
        order.payment_id = payment_id
        order.amount_captured += amount
        order.payment_status = PaymentStatus.CAPTURED
        order.payment_method_token = ""  # the payment is decided: no credential kept
        order.payment_action = {}
        paid = ("payment_id", "amount_captured", "payment_status", "payment_method_token", "payment_action")
        order_paid_report(order)
        awaiting = order.status in AWAITING_PAYMENT_STATUSES
        if awaiting and currency == order.currency and amount >= order.total:
            # The payment and the confirmation: one UPDATE.
            order_confirm(order, reason="payment captured", also_save=paid)
            return
        order.save(update_fields=[*paid, "updated_at"])
        if awaiting:
            # Captured the wrong amount: do not ship against it; cancel and give it back.
            order_cancel_locked(order, reason="payment_mismatch", actor="event:payments")
        elif order.status == S.CANCELLED:
            order_refund_all_captured(order, reason="payment captured after cancellation", actor="event:payments")
        else:
            _ignored(order, "payment.succeeded")


def order_confirm(order: Order, *, reason: str, also_save: tuple[str, ...] = ()) -> None:
    """The locked order (order_lock) is paid (captured, or authorized for capture at shipment):
    confirmed, and order.confirmed tells catalog to commit the stock and the shopper what they
    bought. `also_save`: fields the caller changed, saved with the status."""
    order_transition_locked(order=order, to=S.CONFIRMED, reason=reason, actor="event:payments", also_save=also_save)
    lines = list(order.lines.all())  # read once for both the lines and the email's items
    event_publish(
        contract.ORDER_CONFIRMED,
        contract.OrderConfirmed(
            order_id=str(order.id),
            order_number=order.number,
            customer_id=contract_customer_id(order),
            email=order.email,
            total=money_str(order.total, order.currency),
            currency=order.currency,
            lines=[contract.OrderLine(sku=line.sku, quantity=line.quantity) for line in lines],
            **_confirmation_breakdown(order, lines),
            sealed_access_token=contract_sealed_access_token(order),
        ),
    )


def _confirmation_breakdown(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    """What the confirmation email shows beyond the total, as decimal strings."""

    def money(amount: Decimal) -> str:
        return money_str(amount, order.currency)

    return {
        "items": [
            contract.ConfirmedItem(
                product_name=line.product_name,
                variant_name=line.variant_name,
                quantity=line.quantity,
                unit_price=money(line.unit_price),
                discount=money(line.discount),
                total=money(line.line_total - line.discount),
            )
            for line in lines
        ],
        "subtotal": money(order.subtotal),
        "discount": money(order.discount),
        "shipping": money(order.shipping),
        "shipping_method": order.shipping_method_name,
        "tax": money(order.tax),
        "prices_include_tax": order.prices_include_tax,
        "reverse_charge": order.reverse_charge,
        "vat_number": order.vat_number if order.reverse_charge else "",
    }


def _stale_attempt(order: Order, attempt: int, event_type: str) -> bool:
    """An older attempt's news, after a newer attempt was heard of: it changes nothing."""
    if attempt < int(order.payment_action.get("attempt") or 0):
        _ignored(order, f"{event_type} (attempt {attempt})")
        return True
    return False


def _await_shopper(order: Order, *, reason: str) -> None:
    if order.status != S.PAYMENT_ACTION_REQUIRED:
        order_transition_locked(order=order, to=S.PAYMENT_ACTION_REQUIRED, reason=reason, actor="event:payments")


def saga_payment_action_required(
    *, order_id: str, attempt: int, client_secret: str, next_action_type: str, redirect_url: str, return_url: str
) -> None:
    """The provider needs the shopper (3-D Secure): the order waits with its stock held, and its
    detail carries what the shopper's client needs to complete the payment."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "payment.action_required")
        if order is None:
            return
        if order.status not in AWAITING_PAYMENT_STATUSES:
            _ignored(order, "payment.action_required")
            return
        if _stale_attempt(order, attempt, "payment.action_required"):
            return
        _await_shopper(order, reason="payment needs the shopper's authentication")
        order.payment_status = PaymentStatus.REQUIRES_ACTION
        order.payment_method_token = ""  # payments holds the attempt now; another one brings its own
        order.payment_action = _payment_action(
            order,
            attempt=attempt,
            client_secret=client_secret,
            next_action={"type": next_action_type, "redirect_url": redirect_url},
            return_url=return_url,
        )
        order.save(update_fields=["payment_status", "payment_method_token", "payment_action", "updated_at"])


def saga_payment_failed(
    *, order_id: str, reason_code: str, attempt: int = 1, failure_code: str = "", message: str = ""
) -> None:
    """An attempt failed: the order waits for the shopper to pay again with another method until
    its payment deadline (an order from before deadlines existed is cancelled at once, as then)."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "payment.failed")
        if order is None:
            return
        if order.status not in (*WAITING_STATUSES, *AWAITING_PAYMENT_STATUSES):
            _ignored(order, "payment.failed")
            return
        if _stale_attempt(order, attempt, "payment.failed"):
            return
        order.payment_status = PaymentStatus.FAILED
        order.payment_method_token = ""
        order.payment_action = _payment_action(
            order, attempt=attempt, failure_code=failure_code, reason_code=reason_code, message=message
        )
        order.save(update_fields=["payment_status", "payment_method_token", "payment_action", "updated_at"])
        if order.payment_deadline is None or order.status not in AWAITING_PAYMENT_STATUSES:
            order_cancel_locked(order, reason=f"payment_failed:{reason_code}"[:50], actor="event:payments")
            return
        if reason_code == payment_events.REASON_EXPIRED:
            # Payments closed the attempt at the time to pay (its clock may run ahead of the sweep
            # here): the deadline has come, and nothing can be paid any more.
            order_cancel_locked(order, reason="payment_deadline", actor="event:payments")
            return
        _await_shopper(order, reason=f"payment failed ({reason_code}); the shopper may pay again")


def saga_payment_refunded(*, order_id: str, refund_id: str, amount: Decimal, currency: str) -> None:
    """Money went back: record it against the refund asked for (or a refund made in payments'
    own admin) and move the order to refunded or partially_refunded."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "payment.refunded")
        if order is None:
            return
        refund = _refund_for_event(order, refund_id)
        if refund is not None and refund.status == Refund.Status.COMPLETED:
            _ignored(order, "payment.refunded")
            return
        now = timezone.now()
        if refund is None:
            refund = Refund(
                order=order, currency=currency, reason="refunded by payments", requested_by="event:payments"
            )
        refund.amount = amount
        refund.status = Refund.Status.COMPLETED
        refund.completed_at = now
        refund.payment_refund_id = refund_id
        refund.save()
        order.amount_refunded += amount
        fully = order.amount_refunded >= order.amount_captured
        order.payment_status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
        order.save(update_fields=["amount_refunded", "payment_status", "updated_at"])
        target = S.REFUNDED if fully else S.PARTIALLY_REFUNDED
        # A cancelled order stays cancelled: its refund is the compensation, shown by payment_status.
        if target in ALLOWED_TRANSITIONS[order.status]:
            order_transition(order=order, to=target, reason=f"refunded {amount} {currency}", actor="event:payments")
        else:
            _ignored(order, "payment.refunded (status kept)")


def saga_refund_failed(*, order_id: str, refund_id: str, reason_code: str) -> None:
    """Payments could not refund: the refund is marked failed, so its amount (and any lines it
    named) can be refunded again; staff see the failure in the admin."""
    with atomic(SERVICE, savepoint=False):
        order = _saga_order(order_id, "payment.refund_failed")
        if order is None:
            return
        refund = _refund_for_event(order, refund_id)
        if refund is None or refund.status != Refund.Status.REQUESTED:
            _ignored(order, "payment.refund_failed")
            return
        refund.status = Refund.Status.FAILED
        refund.failure_reason = reason_code[:255]
        refund.save(update_fields=["status", "failure_reason"])
        lines = {line.sku: line for line in order.lines.all()}
        for item in refund.lines:
            line = lines.get(item["sku"])
            if line is not None:
                line.quantity_refunded = max(0, line.quantity_refunded - item["quantity"])
                line.save(update_fields=["quantity_refunded"])
        logger.warning(
            "refund %s of order %s failed: %s", refund.id, order.number, reason_code, extra={"order_id": str(order.id)}
        )


def _refund_for_event(order: Order, refund_id: str) -> Refund | None:
    try:
        ours = order.refunds.filter(pk=uuid.UUID(refund_id)).first()
    except ValueError:
        ours = None
    return ours or order.refunds.filter(payment_refund_id=refund_id).first()


def _overdue(order: Order, *, now: datetime, cutoff: datetime) -> str | None:
    """Why the sweep cancels the order, or None: a saga step that waited too long, or a payment
    the shopper did not complete by its deadline."""
    if order.status in WAITING_STATUSES and order.status_changed_at < cutoff:
        return "saga_timeout"
    if order.status == S.PAYMENT_ACTION_REQUIRED and order.payment_deadline and order.payment_deadline <= now:
        return "payment_deadline"
    return None


def orders_expire_stalled(*, now: datetime | None = None) -> int:
    """Cancel (and compensate) every order whose saga step has waited longer than
    ORDERS_SAGA_TIMEOUT_SECONDS, and every order still waiting for the shopper's payment at its
    payment_deadline (never earlier: that wait is the shopper's, not a stalled step). Each order
    in its own transaction: one failure stops no other."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ORDERS_SAGA_TIMEOUT_SECONDS)
    stalled = list(
        Order.objects.filter(
            Q(status__in=WAITING_STATUSES, status_changed_at__lt=cutoff)
            | Q(status=S.PAYMENT_ACTION_REQUIRED, payment_deadline__lte=now)
        ).values_list("id", flat=True)
    )
    expired = 0
    for order_id in stalled:
        try:
            with atomic(SERVICE):
                order = order_lock(order_id)
                # Re-checked under the lock: the step may have answered since the scan.
                reason = _overdue(order, now=now, cutoff=cutoff) if order is not None else None
                if reason is None:
                    continue
                order_cancel_locked(order, reason=reason, actor=f"{SYSTEM_ACTOR}:{reason.replace('_', '-')}")
                expired += 1
        except Exception:
            logger.exception("could not expire stalled order %s", order_id, extra={"order_id": str(order_id)})
    if expired:
        logger.info("expired %s stalled orders", expired)
    return expired
