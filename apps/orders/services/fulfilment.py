"""Fulfilment: staff ship an order (order.shipped tells the shopper) and mark it delivered."""

from __future__ import annotations

from apps.core.db import atomic
from apps.orders.contracts import events as contract
from apps.orders.errors import IllegalTransition
from apps.orders.models import Order
from apps.orders.services.transitions import (
    SERVICE,
    S,
    contract_customer_id,
    contract_sealed_access_token,
    event_publish,
    order_lock,
    order_transition,
)


def order_ship(*, order: Order, carrier: str, tracking_number: str, actor: str) -> Order:
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if locked.shipped_at is not None:
            raise IllegalTransition(
                f"Order {locked.number} has already shipped.",
                extra={"from_status": locked.status, "to_status": S.SHIPPED},
            )
        order_transition(order=locked, to=S.SHIPPED, reason=f"shipped with {carrier}", actor=actor)
        locked.carrier = carrier
        locked.tracking_number = tracking_number
        locked.shipped_at = locked.status_changed_at
        locked.save(update_fields=["carrier", "tracking_number", "shipped_at", "updated_at"])
        event_publish(
            contract.ORDER_SHIPPED,
            contract.OrderShipped(
                order_id=str(locked.id),
                order_number=locked.number,
                customer_id=contract_customer_id(locked),
                email=locked.email,
                carrier=carrier,
                tracking_number=tracking_number,
                sealed_access_token=contract_sealed_access_token(locked),
            ),
        )
    return locked


def order_mark_delivered(*, order: Order, actor: str) -> Order:
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if locked.shipped_at is None:
            raise IllegalTransition(
                f"Order {locked.number} has not shipped.",
                extra={"from_status": locked.status, "to_status": S.DELIVERED},
            )
        return order_transition(order=locked, to=S.DELIVERED, reason="delivered", actor=actor)
