"""Writes of the catalog service: product and variant changes (publishing product.updated),
stock adjustments with their audit row, the per-order stock reservation saga steps, refunded
goods put back in stock, and the catalog import. Each change and the events it causes commit in
one transaction on the catalog database; the outbox carries the events."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.catalog import selectors
from apps.catalog.contracts import events as contract
from apps.catalog.importing import ImportRow, stock_rows_for, validate_rows
from apps.catalog.models import (
    Category,
    Product,
    ProductImage,
    Reservation,
    ReservationLine,
    Stock,
    StockAdjustment,
    Variant,
)
from apps.core.db import atomic
from apps.core.events import publish
from apps.core.exceptions import NotFound, ValidationFailed

logger = logging.getLogger(__name__)

PRODUCER = "catalog"


# --- product.updated -------------------------------------------------------------------------------


def product_updates_publish(*, before: dict[str, tuple], product_ids: Iterable[Any]) -> int:
    """Publish product.updated for every variant of these products whose sellable state (name,
    price, currency, active) differs from `before` (a selectors.variant_snapshots() taken before
    the change), or that is new. Must run inside atomic("catalog"). Returns how many."""
    after = selectors.variant_snapshots(product_ids=list(product_ids))
    published = 0
    for sku, state in sorted(after.items()):
        if before.get(sku) == state:
            continue
        product_id, product_name, variant_name, price, currency, product_active, variant_active = state
        publish(
            producer=PRODUCER,
            event_type=contract.PRODUCT_UPDATED,
            payload=contract.ProductUpdated(
                sku=sku,
                product_id=str(product_id),
                product_name=product_name,
                variant_name=variant_name,
                price=str(price),
                currency=currency,
                active=bool(product_active and variant_active),
            ),
        )
        published += 1
    return published


def products_set_active(*, product_ids: list[Any], active: bool) -> int:
    """Activate or deactivate products (the admin's bulk actions); returns how many changed."""
    with atomic(PRODUCER):
        changing = list(Product.objects.filter(pk__in=product_ids).exclude(active=active).values_list("pk", flat=True))
        before = selectors.variant_snapshots(product_ids=changing)
        Product.objects.filter(pk__in=changing).update(active=active)
        product_updates_publish(before=before, product_ids=changing)
    return len(changing)


def product_listing_refresh(*, product_ids: Iterable[Any] | None = None) -> int:
    """Recompute the listing summary (cheapest active variant's price, currency and compare-at
    price; whether any active variant has stock; the first image) of these products, or of all.
    Called by every service that changes variants, stock or images. Product rows are locked in
    id order first, after any stock rows the caller holds, so concurrent callers cannot deadlock."""
    with atomic(PRODUCER):
        products = Product.objects.all() if product_ids is None else Product.objects.filter(pk__in=list(product_ids))
        locked = list(products.select_for_update().order_by("pk").values_list("pk", flat=True))
        if not locked:
            return 0
        cheapest = Variant.objects.filter(product=OuterRef("pk"), active=True).order_by("price", "id")
        return Product.objects.filter(pk__in=locked).update(
            price_from=Subquery(cheapest.values("price")[:1]),
            currency=Coalesce(Subquery(cheapest.values("currency")[:1]), Value("")),
            compare_at_price=Subquery(cheapest.values("compare_at_price")[:1]),
            in_stock=Exists(
                Stock.objects.filter(variant__product=OuterRef("pk"), variant__active=True, on_hand__gt=F("reserved"))
            ),
            primary_image=Coalesce(
                Subquery(
                    ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id").values("image")[:1]
                ),
                Value(""),
            ),
        )


def stock_ensure(*, variants: Iterable[Variant]) -> None:
    """Every variant has a stock row (zero units until stock is adjusted)."""
    Stock.objects.bulk_create([Stock(variant=variant) for variant in variants], ignore_conflicts=True)


# --- Stock adjustments -----------------------------------------------------------------------------


def stock_adjust(*, sku: str, delta: int, reason: str, actor: str) -> StockAdjustment:
    """Add `delta` units (negative to remove) to a SKU's stock on hand, with an audit row.
    Refused when on hand would go below zero or below what orders have reserved."""
    errors: dict[str, list[str]] = {}
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        errors["delta"] = ["Enter a whole number of units other than 0."]
    if not reason or not reason.strip():
        errors["reason"] = ["Say why the stock changes."]
    if errors:
        raise ValidationFailed(errors)
    with atomic(PRODUCER):
        stock = Stock.objects.select_for_update().select_related("variant").filter(variant__sku=sku).first()
        if stock is None:
            variant = Variant.objects.filter(sku=sku).first()
            if variant is None:
                raise NotFound(f"There is no SKU {sku!r}.", code="sku_not_found")
            stock = Stock.objects.create(variant=variant)
        on_hand = stock.on_hand + delta
        if on_hand < 0:
            raise ValidationFailed(
                {"delta": [f"Only {stock.on_hand} on hand; stock cannot go below zero."]}, code="negative_stock"
            )
        if on_hand < stock.reserved:
            raise ValidationFailed(
                {"delta": [f"{stock.reserved} units are reserved by orders; on hand cannot go below that."]},
                code="negative_stock",
            )
        stock.on_hand = on_hand
        stock.save(update_fields=["on_hand", "updated_at"])
        adjustment = StockAdjustment.objects.create(
            variant=stock.variant,
            sku=sku,
            delta=delta,
            on_hand_after=on_hand,
            reason=reason.strip()[:255],
            actor=actor,
        )
        product_listing_refresh(product_ids=[stock.variant.product_id])
    logger.info("stock of %s adjusted by %s to %s by %s", sku, delta, on_hand, actor)
    return adjustment


# --- Reservations (the order saga) -----------------------------------------------------------------


@dataclass(frozen=True)
class ReservationOutcome:
    status: str
    reserved: list[contract.ReservedLine]
    short: list[contract.ShortLine]


def _requested(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    wanted: Counter[str] = Counter()
    for sku, quantity in lines:
        wanted[str(sku)] += int(quantity)
    return dict(sorted(wanted.items()))


def stock_reserve(*, order_id: uuid.UUID | str, lines: Iterable[tuple[str, int]]) -> ReservationOutcome | None:
    """Reserve every line of an order, or none: publishes stock.reserved or stock.rejected.

    Returns None (and publishes nothing) when this order was already handled. Stock rows are
    locked with SELECT ... FOR UPDATE in SKU order, so concurrent orders queue instead of
    overselling, and always take their locks in the same order, so they cannot deadlock."""
    order_id = uuid.UUID(str(order_id))
    wanted = _requested(lines)
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


# --- Refunds (goods back on the shelf) ------------------------------------------------------------

RESTOCK_ACTOR = "event:orders"


class RestockBeforeCommit(RuntimeError):
    """refund.requested overtook the order's order.confirmed (the two travel as separate
    messages): the units are still only reserved. Raising leaves the event in its queue, so it is
    delivered again once the commit has landed."""


def stock_restock(
    *, order_id: uuid.UUID | str, order_number: str, refund_id: uuid.UUID | str, lines: Iterable[tuple[str, int]]
) -> bool:
    """A refund brought goods back (refund.requested with restock lines): put them on hand again,
    with an audit row per SKU naming the order and the refund. True when any unit went back.

    Only what the order's committed reservation took off the shelf can come back, less what its
    earlier refunds restocked: anything beyond that (or for a SKU the order never committed) is
    logged and skipped, so a wrong or replayed refund cannot invent stock. Idempotent per refund:
    a second delivery finds the refund's audit rows and does nothing, and the unique (refund, SKU)
    key fails a concurrent twin rather than restocking twice."""
    order_id = uuid.UUID(str(order_id))
    refund_id = uuid.UUID(str(refund_id))
    wanted = _requested(lines)
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
            logger.info("refund %s of order %s already restocked; nothing to do", refund_id, order_id)
            return False
        committed = dict(
            ReservationLine.objects.filter(
                reservation__order_id=order_id, reservation__status=Reservation.Status.COMMITTED
            ).values_list("sku", "quantity")
        )
        if not committed:
            if Reservation.objects.filter(order_id=order_id, status=Reservation.Status.RESERVED).exists():
                raise RestockBeforeCommit(f"order {order_id} is not committed yet; refund {refund_id} waits")
            logger.warning(
                "refund %s of order %s asks to restock, but the order committed no stock; nothing restocked",
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
                    "refund %s of order %s asks to restock %s x %s; %s restocked (%s committed, %s restocked before)",
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
                    reason=f"refund {refund_id} of order {order_number or order_id}"[:255],
                    actor=RESTOCK_ACTOR,
                    order_id=order_id,
                    refund_id=refund_id,
                )
            )
        if not audit:
            return False
        StockAdjustment.objects.bulk_create(audit)
        product_listing_refresh(product_ids={adjustment.variant.product_id for adjustment in audit})
    logger.info("refund %s of order %s restocked %s SKU(s)", refund_id, order_id, len(audit))
    return True


# --- Import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    products_created: int
    products_updated: int
    variants_created: int
    variants_updated: int
    stock_adjusted: int
    events_published: int


def catalog_import(
    *, rows: list[ImportRow], actor: str, reason: str, progress: Callable[[int, int], None] | None = None
) -> ImportSummary:
    """Write validated import rows (importing.validate_rows) in one transaction: upsert products
    by slug and variants by SKU, set stock on hand (each change audited), and publish
    product.updated for what changed. Raises ValidationFailed if the rows were not validated."""
    batch = 500
    with atomic(PRODUCER):
        # Re-checked inside the transaction: the database may have changed since validation.
        _, errors = validate_rows([(row.row, _raw(row)) for row in rows])
        if errors:
            raise ValidationFailed({"rows": [str(error) for error in errors]}, code="import_invalid")
        # Stock rows first, in SKU order, as the reservations take them; product rows after.
        list(
            Stock.objects.select_for_update(of=("self",))
            .filter(variant__sku__in=[row.sku for row in rows])
            .order_by("variant__sku")
            .values_list("pk", flat=True)
        )
        categories = dict(Category.objects.values_list("slug", "id"))
        by_slug: dict[str, ImportRow] = {}
        for row in rows:
            by_slug.setdefault(row.product_slug, row)
        products = {
            product.slug: product for product in Product.objects.filter(slug__in=list(by_slug)).defer("search_vector")
        }
        before = selectors.variant_snapshots(product_ids=[product.pk for product in products.values()])

        new_products, changed_products = [], []
        for slug, row in by_slug.items():
            values = {
                "name": row.product_name,
                "description": row.description,
                "brand": row.brand,
                "category_id": categories.get(row.category),
                "active": row.product_active,
                "attributes": row.attributes,
            }
            product = products.get(slug)
            if product is None:
                product = Product(slug=slug, **values)
                new_products.append(product)
                products[slug] = product
            elif any(getattr(product, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(product, name, value)
                changed_products.append(product)
        Product.objects.bulk_create(new_products, batch_size=batch)
        product_fields = ["name", "description", "brand", "category_id", "active", "attributes", "updated_at"]
        for product in changed_products:
            product.updated_at = timezone.now()
        Product.objects.bulk_update(changed_products, product_fields, batch_size=batch)

        variants = {variant.sku: variant for variant in Variant.objects.filter(sku__in=[row.sku for row in rows])}
        new_variants, changed_variants = [], []
        variant_fields = ["name", "price", "currency", "compare_at_price", "option_values", "weight_grams", "active"]
        for row in rows:
            values = {
                "name": row.variant_name,
                "price": row.price,
                "currency": row.currency,
                "compare_at_price": row.compare_at_price,
                "option_values": row.options,
                "weight_grams": row.weight_grams,
                "active": row.variant_active,
            }
            variant = variants.get(row.sku)
            if variant is None:
                variant = Variant(product=products[row.product_slug], sku=row.sku, **values)
                new_variants.append(variant)
                variants[row.sku] = variant
            elif any(getattr(variant, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(variant, name, value)
                changed_variants.append(variant)
        Variant.objects.bulk_create(new_variants, batch_size=batch)
        Variant.objects.bulk_update(changed_variants, variant_fields, batch_size=batch)
        stock_ensure(variants=new_variants)

        stocks = stock_rows_for([variant.pk for variant in variants.values()])
        adjusted, audit = [], []
        for index, row in enumerate(rows, start=1):
            variant = variants[row.sku]
            stock = stocks[variant.pk]
            if row.stock is not None and row.stock != stock.on_hand:
                audit.append(
                    StockAdjustment(
                        variant=variant,
                        sku=row.sku,
                        delta=row.stock - stock.on_hand,
                        on_hand_after=row.stock,
                        reason=reason[:255],
                        actor=actor,
                    )
                )
                stock.on_hand = row.stock
                stock.updated_at = timezone.now()
                adjusted.append(stock)
            if progress and index % 1000 == 0:
                progress(index, len(rows))
        Stock.objects.bulk_update(adjusted, ["on_hand", "updated_at"], batch_size=batch)
        StockAdjustment.objects.bulk_create(audit, batch_size=batch)
        product_listing_refresh(product_ids=[product.pk for product in products.values()])
        published = product_updates_publish(before=before, product_ids=[product.pk for product in products.values()])
    return ImportSummary(
        products_created=len(new_products),
        products_updated=len(changed_products),
        variants_created=len(new_variants),
        variants_updated=len(changed_variants),
        stock_adjusted=len(adjusted),
        events_published=published,
    )


def _raw(row: ImportRow) -> dict[str, Any]:
    return {
        "product_slug": row.product_slug,
        "product_name": row.product_name,
        "description": row.description,
        "brand": row.brand,
        "category": row.category,
        "product_active": str(row.product_active),
        "attributes": row.attributes,
        "sku": row.sku,
        "variant_name": row.variant_name,
        "price": str(row.price),
        "currency": row.currency,
        "compare_at_price": "" if row.compare_at_price is None else str(row.compare_at_price),
        "options": row.options,
        "weight_grams": "" if row.weight_grams is None else str(row.weight_grams),
        "stock": "" if row.stock is None else str(row.stock),
        "variant_active": str(row.variant_active),
    }
