"""The order saga's stock steps: reserve an order's lines (all or none), release them on
cancellation, commit them when the order is paid.

These run for every order (reserve and commit once each), so each is a few set-based statements
whose SQL is built once per process (services/stock_sql.py) rather than querysets compiled per
call: reserve locks the order's stock rows in one SELECT ... FOR UPDATE, then writes the
reservation, the stock and the reservation lines with one statement each; commit claims the
reservation with one UPDATE, locks the stock rows its lines name, and updates them with one more
(docs/benchmarks.md, catalog's share of an order)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from apps.catalog.contracts import events as contract
from apps.catalog.models import Reservation
from apps.catalog.services import stock_sql
from apps.catalog.services.common import PRODUCER, requested
from apps.catalog.services.products import product_listing_refresh
from apps.core.db import atomic
from apps.core.events import publish

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReservationOutcome:
    status: str
    reserved: list[contract.ReservedLine]
    short: list[contract.ShortLine]


def stock_reserve(*, order_id: uuid.UUID | str, lines: Iterable[tuple[str, int]]) -> ReservationOutcome | None:
    """Reserve every line of an order, or none: publishes stock.reserved or stock.rejected.

    Returns None (and publishes nothing) when this order was already handled (or cancelled before
    it came). Stock rows are locked with SELECT ... FOR UPDATE in SKU order, so concurrent orders
    queue instead of overselling, and always take their locks in the same order, so they cannot
    deadlock. The reservation row is written with INSERT ... ON CONFLICT DO NOTHING on its order
    id: a concurrent duplicate waits on that key and then finds it taken, reserving nothing."""
    order_id = uuid.UUID(str(order_id))
    wanted = requested(lines)
    # No savepoint: an error rolls back the whole delivery (the inbox row with it) anyway.
    with atomic(PRODUCER, savepoint=False):
        stocks = {row.sku: row for row in stock_sql.stock_lock_by_sku(skus=list(wanted))}
        short = []
        for sku, quantity in wanted.items():
            row = stocks.get(sku)
            available = max(row.on_hand - row.reserved, 0) if row is not None and row.sellable else 0
            if quantity < 1 or quantity > available:
                short.append(contract.ShortLine(sku=sku, requested=quantity, available=available))
        status = Reservation.Status.REJECTED if short or not wanted else Reservation.Status.RESERVED
        reservation_id = stock_sql.reservation_claim(order_id=order_id, status=status)
        if reservation_id is None:
            logger.info("order %s already has a reservation; nothing to do", order_id)
            return None
        if status == Reservation.Status.REJECTED:
            publish(
                producer=PRODUCER,
                event_type=contract.STOCK_REJECTED,
                payload=contract.StockRejected(order_id=str(order_id), short=short),
            )
            logger.info("order %s rejected: %s short", order_id, len(short))
            return ReservationOutcome(status=status, reserved=[], short=short)
        held = [(stocks[sku], quantity) for sku, quantity in wanted.items()]
        stock_sql.stock_change(changes=[(row.variant_id, 0, quantity) for row, quantity in held])
        stock_sql.reservation_lines_add(reservation_id=reservation_id, lines=held)
        # The listing summary changes only when a SKU runs out (in_stock may turn false); while
        # every SKU reserved has units left, it stays true.
        ran_out = {row.product_id for row, quantity in held if row.on_hand - row.reserved - quantity <= 0}
        if ran_out:
            product_listing_refresh(product_ids=ran_out)
        reserved = [contract.ReservedLine(sku=sku, quantity=quantity) for sku, quantity in wanted.items()]
        publish(
            producer=PRODUCER,
            event_type=contract.STOCK_RESERVED,
            payload=contract.StockReserved(order_id=str(order_id), lines=reserved),
        )
    logger.info("order %s reserved %s line(s)", order_id, len(reserved))
    return ReservationOutcome(status=status, reserved=reserved, short=[])


def stock_release(*, order_id: uuid.UUID | str) -> bool:
    """Give back what an order reserved (it was cancelled). Idempotent: True only when units
    went back. A cancellation that arrives before the reservation leaves a marker, so a late
    order.created reserves nothing."""
    order_id = uuid.UUID(str(order_id))
    with atomic(PRODUCER, savepoint=False):
        reservation_id = stock_sql.reservation_move(
            order_id=order_id, old=Reservation.Status.RESERVED, new=Reservation.Status.RELEASED
        )
        if reservation_id is None:
            if stock_sql.reservation_claim(order_id=order_id, status=Reservation.Status.CANCELLED) is not None:
                return False  # the marker
            # Taken meanwhile: a reservation committed while the claim waited on its key. Read
            # again (this statement sees it), and release it if it holds units.
            reservation_id = stock_sql.reservation_move(
                order_id=order_id, old=Reservation.Status.RESERVED, new=Reservation.Status.RELEASED
            )
            if reservation_id is None:
                return False
        held = stock_sql.reservation_stock_lock(reservation_id=reservation_id)
        stock_sql.stock_change(changes=[(row.variant_id, 0, -quantity) for row, quantity in held])
        # Units back on a SKU that had none left may put its product back in stock.
        back = {row.product_id for row, _ in held if row.on_hand - row.reserved <= 0}
        if back:
            product_listing_refresh(product_ids=back)
    logger.info("order %s released its reservation", order_id)
    return True


def stock_commit(*, order_id: uuid.UUID | str) -> bool:
    """The order is confirmed (paid): its reserved units leave the shelf (on hand and reserved
    both decrease). Idempotent: True only the first time.

    What is available (on hand less reserved) does not change, so neither does the listing
    summary: nothing to refresh."""
    order_id = uuid.UUID(str(order_id))
    with atomic(PRODUCER, savepoint=False):
        reservation_id = stock_sql.reservation_move(
            order_id=order_id, old=Reservation.Status.RESERVED, new=Reservation.Status.COMMITTED
        )
        if reservation_id is None:
            status = Reservation.objects.filter(order_id=order_id).values_list("status", flat=True).first()
            logger.warning(
                "order %s confirmed without a held reservation (%s); stock unchanged", order_id, status or "none"
            )
            return False
        held = stock_sql.reservation_stock_lock(reservation_id=reservation_id)
        stock_sql.stock_change(changes=[(row.variant_id, -quantity, -quantity) for row, quantity in held])
    logger.info("order %s committed its reservation", order_id)
    return True
