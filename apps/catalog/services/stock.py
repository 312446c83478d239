"""Stock on hand: a stock row for every variant, and staff adjustments with their audit row."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from apps.catalog.models import Stock, StockAdjustment, Variant
from apps.catalog.services.common import PRODUCER
from apps.catalog.services.products import product_listing_refresh
from apps.core.db import atomic
from apps.core.exceptions import NotFound, ValidationFailed

logger = logging.getLogger(__name__)


def stock_ensure(*, variants: Iterable[Variant]) -> None:
    """Every variant has a stock row (zero units until stock is adjusted)."""
    Stock.objects.bulk_create([Stock(variant=variant) for variant in variants], ignore_conflicts=True)


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
