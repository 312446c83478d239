"""The order state machine and what every orders story shares: the actors that sign a transition,
the order row lock and event publishing. Every status change goes through order_transition."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish_about_customer
from apps.core.sealing import seal
from apps.orders.access import order_access_token
from apps.orders.contracts import events as contract
from apps.orders.errors import IllegalTransition
from apps.orders.models import Order, OrderStatus, OrderStatusChange
from apps.orders.services.saga_metrics import order_status_report

SERVICE = "orders"
S = OrderStatus

# The state machine. Anything not listed is illegal and raises IllegalTransition (409).
# "Paid" and "confirmed" are one state: orders confirms the moment payments reports the capture.
# partially_refunded keeps the order's fulfilment going (a confirmed order refunded in part is
# still shipped); the services check shipped_at where "before shipping" matters.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.STOCK_RESERVED, S.CANCELLED}),
    S.STOCK_RESERVED: frozenset({S.CONFIRMED, S.PAYMENT_ACTION_REQUIRED, S.CANCELLED}),
    S.PAYMENT_ACTION_REQUIRED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # Some parcels left, others not yet (services/shipments.py): each further parcel is a
    # transition of its own in the history; the last one (or closing the rest) makes it shipped.
    S.PARTIALLY_SHIPPED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset(
        {S.PARTIALLY_REFUNDED, S.REFUNDED, S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.CANCELLED}
    ),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Saga steps waiting on another service; the timeout task gives up on them.
WAITING_STATUSES = (S.PENDING, S.STOCK_RESERVED)
# Waiting for payment with stock held: the provider's answer, or the shopper's action (3-D
# Secure, another method) until the order's payment_deadline.
AWAITING_PAYMENT_STATUSES = (S.STOCK_RESERVED, S.PAYMENT_ACTION_REQUIRED)

SYSTEM_ACTOR = "system"
# A guest order's shopper: whoever holds the order's access token (apps.orders.access).
GUEST_ACTOR = "guest"


def customer_actor(customer_id: uuid.UUID | str) -> str:
    return f"customer:{customer_id}"


def staff_actor(user: Any) -> str:
    return f"staff:{user.get_username()}"


def order_lock(order_id: uuid.UUID | str) -> Order | None:
    """The order, its row locked until the surrounding transaction ends."""
    return Order.objects.select_for_update().filter(pk=order_id).first()


def order_transition(*, order: Order, to: str, reason: str, actor: str) -> Order:
    """Move `order` to status `to`, recording who and why. The row is locked and its status read
    again under the lock, so two concurrent transitions cannot both pass the check. An illegal
    transition raises IllegalTransition (409 "illegal_transition") and changes nothing."""
    with atomic(SERVICE):
        current = Order.objects.select_for_update().values_list("status", flat=True).get(pk=order.pk)
        _transition_check(order, current, to)
        order.status = current
        return order_transition_locked(order=order, to=to, reason=reason, actor=actor)


def _transition_check(order: Order, current: str, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(
            f"Order {order.number} cannot go from {current} to {to}.",
            extra={"from_status": current, "to_status": to},
        )


def order_transition_locked(
    *,
    order: Order,
    to: str,
    reason: str,
    actor: str,
    now: datetime | None = None,
    also_save: tuple[str, ...] = (),
) -> Order:
    """order_transition for an order the caller read with order_lock in the transaction it is in:
    its status is already the one under the lock, so it is neither read again nor guarded by a
    savepoint (three round trips; an illegal transition raises before anything is written, and any
    later error rolls the caller's whole transaction back). `also_save` names fields the caller
    changed on `order` that go out in the same UPDATE as the status; `now` the moment it is
    stamped with (default: now)."""
    current = order.status
    _transition_check(order, current, to)
    order.status = to
    order.status_changed_at = now or timezone.now()
    order.save(update_fields=["status", "status_changed_at", "updated_at", *also_save])
    OrderStatusChange.objects.create(order=order, from_status=current, to_status=to, reason=reason, actor=actor)
    order_status_report(order, to=to, reason=reason)
    return order


def contract_lines(order: Order) -> list[contract.OrderLine]:
    return [contract.OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines.all()]


def contract_customer_id(order: Order) -> str | None:
    return str(order.customer_id) if order.customer_id is not None else None


def contract_sealed_access_token(order: Order) -> str:
    """A guest order's access token, sealed for the event that tells the shopper (their only way
    back to the order is the link in that email); "" for a shopper's order, who signs in."""
    if order.customer_id is not None:
        return ""
    return seal(order_access_token(order_id=order.id))


def event_publish(event_type: str, payload: Any) -> None:
    # An event about a guest order is version 2; see the contract's docstring.
    publish_about_customer(
        producer=SERVICE, event_type=event_type, payload=payload, guest_version=contract.GUEST_VERSION
    )
