"""Goods back on the shelf: refunded (refund.requested with restock lines), returned from a parcel
(order.lines_returned) or never shipped (order.lines_cancelled), bounded by what the order's
committed reservation took."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.db.models import Sum

from apps.catalog.models import Reservation, ReservationLine, Stock, StockAdjustment
from apps.catalog.services.common import PRODUCER, requested
from apps.catalog.services.products import product_listing_refresh
from apps.core.db import atomic

logger = logging.getLogger(__name__)

RESTOCK_ACTOR = "event:orders"


class RestockBeforeCommit(RuntimeError):
    """refund.requested overtook the order's order.confirmed (the two travel as separate
    messages): the units are still only reserved. Raising leaves the event in its queue, so it is
    delivered again once the commit has landed."""


def stock_restock(
    *,
    order_id: uuid.UUID | str,
    order_number: str,
    refund_id: uuid.UUID | str,
    lines: Iterable[tuple[str, int]],
    source: str = "refund",
) -> bool:
    """A refund, a return or a cancellation brought goods back: put them on hand again, with an
    audit row per SKU naming the order and `refund_id` (the refund's, the return's or the
    cancellation's id, all orders' UUIDs; `source` says which in the audit's reason). True when
    any unit went back.

    Only what the order's committed reservation took off the shelf can come back, less what its
    earlier refunds restocked: anything beyond that (or for a SKU the order never committed) is
    logged and skipped, so a wrong or replayed refund cannot invent stock. Idempotent per refund:
    a second delivery finds the refund's audit rows and does nothing, and the unique (refund, SKU)
    key fails a concurrent twin rather than restocking twice."""
    order_id = uuid.UUID(str(order_id))
    refund_id = uuid.UUID(str(refund_id))
    wanted = requested(lines)
    with atomic(PRODUCER):
        # The same lock order as stock_reserve (by SKU). Taken before the checks below, so a
        # concurrent delivery of this refund (or another refund of the order) waits here and then
        # reads what the first one committed.
        stocks = {
            stock.variant.sku: stock
            for stock in Stock.objects.select_for_update(of=("self",))
            .select_related("variant")
            .filter(variant__sku__in=list(wanted))
            .order_by("variant__sku")
        }
        if StockAdjustment.objects.filter(refund_id=refund_id).exists():
            logger.info("%s %s of order %s already restocked; nothing to do", source, refund_id, order_id)
            return False
        committed = dict(
            ReservationLine.objects.filter(
                reservation__order_id=order_id, reservation__status=Reservation.Status.COMMITTED
            ).values_list("sku", "quantity")
        )
        if not committed:
            if Reservation.objects.filter(order_id=order_id, status=Reservation.Status.RESERVED).exists():
                raise RestockBeforeCommit(f"order {order_id} is not committed yet; {source} {refund_id} waits")
            logger.warning(
                "%s %s of order %s asks to restock, but the order committed no stock; nothing restocked",
                source,
                refund_id,
                order_id,
            )
            return False
        restocked = dict(
            StockAdjustment.objects.filter(order_id=order_id, refund_id__isnull=False, sku__in=list(wanted))
            .values("sku")
            .annotate(units=Sum("delta"))
            .values_list("sku", "units")
        )
        audit = []
        for sku, quantity in wanted.items():
            stock = stocks.get(sku)
            room = committed.get(sku, 0) - restocked.get(sku, 0) if stock else 0
            units = max(min(quantity, room), 0)
            if units < quantity:
                logger.warning(
                    "%s %s of order %s asks to restock %s x %s; %s restocked (%s committed, %s restocked before)",
                    source,
                    refund_id,
                    order_id,
                    quantity,
                    sku,
                    units,
                    committed.get(sku, 0),
                    restocked.get(sku, 0),
                )
            if units == 0:
                continue
            stock.on_hand += units
            stock.save(update_fields=["on_hand", "updated_at"])
            audit.append(
                StockAdjustment(
                    variant=stock.variant,
                    sku=sku,
                    delta=units,
                    on_hand_after=stock.on_hand,
                    reason=f"{source} {refund_id} of order {order_number or order_id}"[:255],
                    actor=RESTOCK_ACTOR,
                    order_id=order_id,
                    refund_id=refund_id,
                )
            )
        if not audit:
            return False
        StockAdjustment.objects.bulk_create(audit)
        product_listing_refresh(product_ids={adjustment.variant.product_id for adjustment in audit})
    logger.info("%s %s of order %s restocked %s SKU(s)", source, refund_id, order_id, len(audit))
    return True
