"""Inbound events of the catalog service: the stock side of the checkout saga. Thin: each turns
the payload into the orders contract's dataclass and calls one service. Delivery is idempotent
per event (the inbox) and per order (the Reservation row)."""

from __future__ import annotations

from apps.catalog import services
from apps.core.events import Envelope, event_handler
from apps.orders.contracts import events as orders


def _lines(payload: dict) -> list[tuple[str, int]]:
    return [(line["sku"], int(line["quantity"])) for line in payload.get("lines", [])]


@event_handler("catalog", orders.ORDER_CREATED)
def on_order_created(envelope: Envelope) -> None:
    order = orders.OrderCreated(
        order_id=envelope.payload["order_id"],
        order_number=envelope.payload.get("order_number", ""),
        customer_id=envelope.payload.get("customer_id", ""),
        lines=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in _lines(envelope.payload)],
    )
    services.stock_reserve(order_id=order.order_id, lines=[(line.sku, line.quantity) for line in order.lines])


@event_handler("catalog", orders.ORDER_CANCELLED)
def on_order_cancelled(envelope: Envelope) -> None:
    services.stock_release(order_id=envelope.payload["order_id"])


@event_handler("catalog", orders.ORDER_CONFIRMED)
def on_order_confirmed(envelope: Envelope) -> None:
    services.stock_commit(order_id=envelope.payload["order_id"])
