"""Inbound events of the catalog service: the stock side of the checkout saga, and refunded,
returned or never shipped goods put back in stock. Thin: each reads the payload and calls one
service. Delivery is idempotent per event (the inbox), per order (the Reservation row) and per
refund, return or cancellation (its restock audit rows)."""

from __future__ import annotations

import logging
import uuid

from apps.catalog.services import reservations, restock
from apps.core.events import Envelope, event_handler
from apps.orders.contracts import events as orders

logger = logging.getLogger(__name__)

# Version 2 (a guest order: customer_id None) reads the same here: catalog never uses the customer.
GUEST_READY = (1, orders.GUEST_VERSION)


def _lines(payload: dict) -> list[tuple[str, int]]:
    return [(line["sku"], int(line["quantity"])) for line in payload.get("lines", [])]


@event_handler("catalog", orders.ORDER_CREATED, versions=GUEST_READY)
def on_order_created(envelope: Envelope) -> None:
    order = orders.OrderCreated(
        order_id=envelope.payload["order_id"],
        order_number=envelope.payload.get("order_number", ""),
        customer_id=envelope.payload.get("customer_id", ""),
        lines=[orders.OrderLine(sku=sku, quantity=quantity) for sku, quantity in _lines(envelope.payload)],
    )
    reservations.stock_reserve(order_id=order.order_id, lines=[(line.sku, line.quantity) for line in order.lines])


@event_handler("catalog", orders.ORDER_CANCELLED, versions=GUEST_READY)
def on_order_cancelled(envelope: Envelope) -> None:
    reservations.stock_release(order_id=envelope.payload["order_id"])


@event_handler("catalog", orders.ORDER_CONFIRMED, versions=GUEST_READY)
def on_order_confirmed(envelope: Envelope) -> None:
    reservations.stock_commit(order_id=envelope.payload["order_id"])


@event_handler("catalog", orders.REFUND_REQUESTED)
def on_refund_requested(envelope: Envelope) -> None:
    payload = envelope.payload
    try:
        refund = orders.RefundRequested(
            order_id=str(uuid.UUID(str(payload["order_id"]))),
            order_number=str(payload.get("order_number") or ""),
            refund_id=str(uuid.UUID(str(payload["refund_id"]))),
            amount=str(payload.get("amount") or ""),
            currency=str(payload.get("currency") or ""),
            reason=str(payload.get("reason") or ""),
            restock=[
                orders.OrderLine(sku=str(line["sku"]), quantity=int(line["quantity"]))
                for line in payload.get("restock") or []
            ],
        )
    except (KeyError, TypeError, ValueError):
        # Retrying cannot fix it, and raising would hold up the producer's outbox (all-in-one).
        logger.error("refund.requested %s with an unusable payload ignored", envelope.id)
        return
    if refund.restock:
        restock.stock_restock(
            order_id=refund.order_id,
            order_number=refund.order_number,
            refund_id=refund.refund_id,
            lines=[(line.sku, line.quantity) for line in refund.restock],
        )


def _restock_from(envelope: Envelope, *, id_field: str, lines_field: str, source: str) -> None:
    """Goods an order event names by its own id (`id_field`) back on the shelf, audited and
    idempotent per that id like a refund's restock."""
    payload = envelope.payload
    try:
        order_id = str(uuid.UUID(str(payload["order_id"])))
        restock_id = str(uuid.UUID(str(payload[id_field])))
        lines = [(str(line["sku"]), int(line["quantity"])) for line in payload.get(lines_field) or []]
    except (KeyError, TypeError, ValueError):
        # Retrying cannot fix it, and raising would hold up the producer's outbox (all-in-one).
        logger.error("%s %s with an unusable payload ignored", envelope.type, envelope.id)
        return
    if lines:
        restock.stock_restock(
            order_id=order_id,
            order_number=str(payload.get("order_number") or ""),
            refund_id=restock_id,
            lines=lines,
            source=source,
        )


@event_handler("catalog", orders.ORDER_LINES_CANCELLED)
def on_order_lines_cancelled(envelope: Envelope) -> None:
    """Goods of a confirmed order that will never ship, nothing refunded for them (capture at
    shipment): back on the shelf, once per cancellation."""
    _restock_from(envelope, id_field="cancellation_id", lines_field="lines", source="cancellation")


@event_handler("catalog", orders.ORDER_LINES_RETURNED)
def on_order_lines_returned(envelope: Envelope) -> None:
    """Goods the shopper sent back from a parcel: those fit to sell again (`restock`) back on the
    shelf, once per return."""
    _restock_from(envelope, id_field="return_id", lines_field="restock", source="return")
