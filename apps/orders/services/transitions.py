"""The order state machine and what every orders story shares: the actors that sign a transition,
the order row lock and event publishing. Every status change goes through order_transition."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
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
    S.STOCK_RESERVED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.SHIPPED, S.DELIVERED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Saga steps waiting on another service; the timeout task gives up on them.
WAITING_STATUSES = (S.PENDING, S.STOCK_RESERVED)

SYSTEM_ACTOR = "system"


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
        if to not in ALLOWED_TRANSITIONS[current]:
            raise IllegalTransition(
                f"Order {order.number} cannot go from {current} to {to}.",
                extra={"from_status": current, "to_status": to},
            )
        now = timezone.now()
        order.status = to
        order.status_changed_at = now
        order.save(update_fields=["status", "status_changed_at", "updated_at"])
        OrderStatusChange.objects.create(order=order, from_status=current, to_status=to, reason=reason, actor=actor)
        order_status_report(order, to=to, reason=reason)
    return order


def contract_lines(order: Order) -> list[contract.OrderLine]:
    return [contract.OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines.all()]


def event_publish(event_type: str, payload: Any) -> None:
    publish(producer=SERVICE, event_type=event_type, payload=payload)
