"""Capture at shipment, orders' side of the requests (PAYMENTS_CAPTURE_AT=shipment): which capture a
payment asks for, the capture of what shipped, the release of an authorization nothing will be
taken from, and the goods that will never ship put back in stock.

The rule (docs/payments.md, "Capture at shipment"): a card authorization can be captured once
(Stripe releases whatever a partial capture leaves), so each parcel records its share when it
ships, and the order is captured once, for the sum of its parcels' shares, when its last parcel
ships or when staff close what never will; an order cancelled before anything shipped releases
the whole authorization."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from apps.orders.contracts import events as contract
from apps.orders.models import Order, PaymentStatus
from apps.orders.pricing.money import money_str
from apps.orders.services.transitions import event_publish


def payment_capture_mode() -> str:
    """What payment.requested asks for: capture at once, or authorize only (capture at shipment)."""
    return contract.CAPTURE_MANUAL if settings.PAYMENTS_CAPTURE_AT == "shipment" else contract.CAPTURE_AUTOMATIC


def capture_request_id(order: Order) -> str:
    # One capture per order: a repeated request is the same request (payments and the provider
    # answer it once).
    return f"order-{order.id}-capture"


def release_request_id(order: Order) -> str:
    return f"order-{order.id}-release"


def shipped_amount(order: Order) -> Decimal:
    """The sum of the order's parcels' shares: what its capture takes."""
    return order.shipments.aggregate(total=Sum("amount"))["total"] or Decimal("0")


def authorization_capture(order: Order, *, reason: str) -> None:
    """The locked order's fulfilment is settled (every unit shipped, or the rest closed): capture
    what its parcels shipped; payments' provider releases the rest of the authorization."""
    if order.payment_status != PaymentStatus.AUTHORIZED:
        return
    amount = shipped_amount(order)
    if amount <= 0:
        authorization_release(order, reason=reason)
        return
    order.payment_status = PaymentStatus.CAPTURE_REQUESTED
    order.save(update_fields=["payment_status", "updated_at"])
    event_publish(
        contract.PAYMENT_CAPTURE_REQUESTED,
        contract.PaymentCaptureRequested(
            order_id=str(order.id),
            order_number=order.number,
            request_id=capture_request_id(order),
            amount=money_str(amount, order.currency),
            currency=order.currency,
            reason=reason,
        ),
    )


def authorization_release(order: Order, *, reason: str) -> None:
    """Let the locked order's whole authorization go (nothing shipped and nothing will)."""
    if order.payment_status != PaymentStatus.AUTHORIZED:
        return
    event_publish(
        contract.PAYMENT_RELEASE_REQUESTED,
        contract.PaymentReleaseRequested(
            order_id=str(order.id), order_number=order.number, request_id=release_request_id(order), reason=reason
        ),
    )


def lines_cancel(order: Order, lines: Mapping[str, int]) -> None:
    """Units of the locked order that will never ship and were not refunded (nothing was captured
    for them): counted as cancelled, and order.lines_cancelled puts them back in stock."""
    order_lines = {line.sku: line for line in order.lines.all()}
    cancelled = []
    for sku, quantity in lines.items():
        if quantity <= 0:
            continue
        line = order_lines[sku]
        line.quantity_cancelled += quantity
        line.save(update_fields=["quantity_cancelled"])
        cancelled.append(contract.OrderLine(sku=sku, quantity=quantity))
    if cancelled:
        event_publish(
            contract.ORDER_LINES_CANCELLED,
            contract.OrderLinesCancelled(
                order_id=str(order.id),
                order_number=order.number,
                cancellation_id=str(uuid.uuid4()),
                lines=cancelled,
            ),
        )


def authorization_release_on_cancel(order: Order, *, reason: str, restock: bool) -> None:
    """A cancelled order whose card only holds the money: the authorization goes, and goods the
    confirmation had taken off the shelf go back (no refund carries them, nothing was captured)."""
    if order.amount_captured > 0:
        return
    if restock:
        lines_cancel(order, {line.sku: line.quantity_to_ship for line in order.lines.all()})
    authorization_release(order, reason=f"order cancelled: {reason}")
