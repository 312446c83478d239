"""The order saga's stock steps: reserve an order's lines (all or none), release them on
cancellation, commit them when the order is paid."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F

from apps.catalog.contracts import events as contract
from apps.catalog.models import Reservation, ReservationLine, Stock
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

    Returns None (and publishes nothing) when this order was already handled. Stock rows are
    locked with SELECT ... FOR UPDATE in SKU order, so concurrent orders queue instead of
    overselling, and always take their locks in the same order, so they cannot deadlock."""
    order_id = uuid.UUID(str(order_id))
    wanted = requested(lines)
    with atomic(PRODUCER):
        if Reservation.objects.filter(order_id=order_id).exists():
            logger.info("order %s already has a reservation; nothing to do", order_id)
            return None
        # Claims the order id first: a concurrent duplicate blocks on the unique key here and
        # fails when this commits, rather than reserving twice.
        reservation = Reservation.objects.create(order_id=order_id, status=Reservation.Status.REJECTED)
        stocks = {
            stock.variant.sku: stock
            for stock in Stock.objects.select_for_update(of=("self",))
            .select_related("variant", "variant__product")
            .filter(variant__sku__in=list(wanted))
            .order_by("variant__sku")
        }
        short = []
        for sku, quantity in wanted.items():
            stock = stocks.get(sku)
            sellable = stock is not None and stock.variant.active and stock.variant.product.active
            available = max(stock.available, 0) if sellable else 0
            if quantity < 1 or quantity > available:
                short.append(contract.ShortLine(sku=sku, requested=quantity, available=available))
        if short or not wanted:
            publish(
                producer=PRODUCER,
                event_type=contract.STOCK_REJECTED,
                payload=contract.StockRejected(order_id=str(order_id), short=short),
            )
            logger.info("order %s rejected: %s short", order_id, len(short))
            return ReservationOutcome(status=reservation.status, reserved=[], short=short)
        for sku, quantity in wanted.items():
            Stock.objects.filter(pk=stocks[sku].pk).update(reserved=F("reserved") + quantity)
        ReservationLine.objects.bulk_create(
            ReservationLine(reservation=reservation, variant=stocks[sku].variant, sku=sku, quantity=quantity)
            for sku, quantity in wanted.items()
        )
        reservation.status = Reservation.Status.RESERVED
        reservation.save(update_fields=["status", "updated_at"])
        product_listing_refresh(product_ids={stocks[sku].variant.product_id for sku in wanted})
        reserved = [contract.ReservedLine(sku=sku, quantity=quantity) for sku, quantity in wanted.items()]
        publish(
            producer=PRODUCER,
            event_type=contract.STOCK_RESERVED,
            payload=contract.StockReserved(order_id=str(order_id), lines=reserved),
        )
    logger.info("order %s reserved %s line(s)", order_id, len(reserved))
    return ReservationOutcome(status=reservation.status, reserved=reserved, short=[])


def _locked_reservation(order_id: uuid.UUID) -> Reservation | None:
    return Reservation.objects.select_for_update().filter(order_id=order_id).first()


def _locked_lines(reservation: Reservation) -> list[tuple[ReservationLine, Stock]]:
    lines = list(reservation.lines.order_by("sku"))
    # The same lock order as stock_reserve (by SKU), so release/commit cannot deadlock with it.
    stocks = {
        stock.pk: stock
        for stock in Stock.objects.select_for_update(of=("self",))
        .select_related("variant")
        .filter(pk__in=[line.variant_id for line in lines])
        .order_by("variant__sku")
    }
    return [(line, stocks[line.variant_id]) for line in lines]


def stock_release(*, order_id: uuid.UUID | str) -> bool:
    """Give back what an order reserved (it was cancelled). Idempotent: True only when units
    went back. A cancellation that arrives before the reservation leaves a marker, so a late
    order.created reserves nothing."""
    order_id = uuid.UUID(str(order_id))
    with atomic(PRODUCER):
        reservation = _locked_reservation(order_id)
        if reservation is None:
            Reservation.objects.create(order_id=order_id, status=Reservation.Status.CANCELLED)
            return False
        if reservation.status != Reservation.Status.RESERVED:
            return False
        locked = _locked_lines(reservation)
        for line, stock in locked:
            Stock.objects.filter(pk=stock.pk).update(reserved=F("reserved") - line.quantity)
        reservation.status = Reservation.Status.RELEASED
        reservation.save(update_fields=["status", "updated_at"])
        product_listing_refresh(product_ids={stock.variant.product_id for _, stock in locked})
    logger.info("order %s released its reservation", order_id)
    return True


def stock_commit(*, order_id: uuid.UUID | str) -> bool:
    """The order is confirmed (paid): its reserved units leave the shelf (on hand and reserved
    both decrease). Idempotent: True only the first time."""
    order_id = uuid.UUID(str(order_id))
    with atomic(PRODUCER):
        reservation = _locked_reservation(order_id)
        if reservation is None or reservation.status != Reservation.Status.RESERVED:
            logger.warning(
                "order %s confirmed without a held reservation (%s); stock unchanged",
                order_id,
                reservation.status if reservation else "none",
            )
            return False
        locked = _locked_lines(reservation)
        for line, stock in locked:
            Stock.objects.filter(pk=stock.pk).update(
                on_hand=F("on_hand") - line.quantity, reserved=F("reserved") - line.quantity
            )
        reservation.status = Reservation.Status.COMMITTED
        reservation.save(update_fields=["status", "updated_at"])
        product_listing_refresh(product_ids={stock.variant.product_id for _, stock in locked})
    logger.info("order %s committed its reservation", order_id)
    return True
