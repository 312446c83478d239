"""Cancellation before shipping, by the shopper, staff or a failed saga step: order.cancelled and
the compensation (captured money back, committed stock restocked; with capture at shipment, the
card's authorization released)."""

from __future__ import annotations

from apps.core.db import atomic
from apps.orders.access import OrderGrant
from apps.orders.contracts import events as contract
from apps.orders.errors import IllegalTransition
from apps.orders.models import Order
from apps.orders.pricing.vouchers import voucher_uses_release
from apps.orders.selectors import order_get_granted
from apps.orders.services.authorizations import authorization_release_on_cancel
from apps.orders.services.refunds import order_refund_all_captured
from apps.orders.services.transitions import (
    GUEST_ACTOR,
    SERVICE,
    S,
    contract_customer_id,
    contract_lines,
    contract_sealed_access_token,
    customer_actor,
    event_publish,
    order_lock,
    order_transition,
)

# Once order.confirmed is out, catalog has committed the stock (the units left the shelf), and
# order.cancelled only releases a reservation still held; from these statuses a cancellation
# must name the goods to put back, in the refund's restock lines.
STOCK_COMMITTED_STATUSES = (S.CONFIRMED, S.PARTIALLY_REFUNDED)


def order_cancel_locked(order: Order, *, reason: str, actor: str) -> Order:
    if order.status == S.PARTIALLY_REFUNDED and order.shipped_at is not None:
        raise IllegalTransition(
            f"Order {order.number} has shipped; refund it instead.",
            extra={"from_status": order.status, "to_status": S.CANCELLED},
        )
    stock_committed = order.status in STOCK_COMMITTED_STATUSES
    order_transition(order=order, to=S.CANCELLED, reason=reason, actor=actor)
    order.cancel_reason = reason[:50]
    order.payment_method_token = ""
    order.payment_action = {}  # no client secret outlives the order's chance to be paid
    order.save(update_fields=["cancel_reason", "payment_method_token", "payment_action", "updated_at"])
    event_publish(
        contract.ORDER_CANCELLED,
        contract.OrderCancelled(
            order_id=str(order.id),
            order_number=order.number,
            customer_id=contract_customer_id(order),
            email=order.email,
            reason=reason,
            lines=contract_lines(order),
            sealed_access_token=contract_sealed_access_token(order),
        ),
    )
    voucher_uses_release(order=order)
    order_refund_all_captured(order, reason=f"order cancelled: {reason}", actor=actor, restock=stock_committed)
    authorization_release_on_cancel(order, reason=reason, restock=stock_committed)
    return order


def order_cancel(*, order: Order, reason: str, actor: str) -> Order:
    """Cancel before shipping (shopper, staff or a failed saga step), publish order.cancelled
    (catalog releases a held reservation, notifications tell the shopper) and ask for any captured
    money back (refund.requested, restocking the goods if catalog had committed them)."""
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        return order_cancel_locked(locked, reason=reason, actor=actor)


def order_cancel_by_shopper(*, grant: OrderGrant) -> Order:
    """The shopper cancels: the owner signed in, or a guest with the order's access token."""
    order = order_get_granted(grant=grant)
    actor = customer_actor(grant.customer_id) if grant.customer_id is not None else GUEST_ACTOR
    return order_cancel(order=order, reason="customer_request", actor=actor)
