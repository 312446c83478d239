"""Fulfilment: staff ship what is left of an order in one parcel (the parcels themselves are in
services/shipments.py) and mark it delivered."""

from __future__ import annotations

from apps.core.db import atomic
from apps.orders.errors import IllegalTransition
from apps.orders.models import Order
from apps.orders.services.shipments import shipment_create
from apps.orders.services.transitions import SERVICE, S, order_lock, order_transition


def order_ship(*, order: Order, carrier: str, tracking_number: str, actor: str) -> Order:
    """Everything still to ship, as one parcel (services.shipments.shipment_create)."""
    shipment = shipment_create(order=order, carrier=carrier, tracking_number=tracking_number, actor=actor)
    return shipment.order


def order_mark_delivered(*, order: Order, actor: str) -> Order:
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if locked.shipped_at is None:
            raise IllegalTransition(
                f"Order {locked.number} has not shipped.",
                extra={"from_status": locked.status, "to_status": S.DELIVERED},
            )
        return order_transition(order=locked, to=S.DELIVERED, reason="delivered", actor=actor)
