"""Product changes: product.updated for what a change made sellable or not, the admin's bulk
(de)activation, and the listing summary every write path refreshes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Exists, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.catalog import selectors
from apps.catalog.contracts import events as contract
from apps.catalog.models import Product, ProductImage, Stock, StockAdjustment, Variant
from apps.catalog.services.common import PRODUCER
from apps.core.db import atomic
from apps.core.events import publish_many


def product_updates_publish(*, before: dict[str, tuple], product_ids: Iterable[Any]) -> int:
    """Publish product.updated for every variant of these products whose sellable state (name,
    price, currency, active) differs from `before` (a selectors.variant_snapshots() taken before
    the change), or that is new. Must run inside atomic("catalog"). Returns how many."""
    after = selectors.variant_snapshots(product_ids=list(product_ids))
    # A SKU that is gone (deleted, or renamed) is announced as no longer sellable under that name.
    gone = {sku: (*state[:5], False, False) for sku, state in before.items() if sku not in after}
    events = []
    for sku, state in sorted({**gone, **after}.items()):
        if before.get(sku) == state:
            continue
        product_id, product_name, variant_name, price, currency, product_active, variant_active = state
        events.append(
            (
                contract.PRODUCT_UPDATED,
                contract.ProductUpdated(
                    sku=sku,
                    product_id=str(product_id),
                    product_name=product_name,
                    variant_name=variant_name,
                    price=str(price),
                    currency=currency,
                    active=bool(product_active and variant_active),
                ),
            )
        )
    publish_many(producer=PRODUCER, events=events)
    return len(events)


def products_set_active(*, product_ids: list[Any], active: bool) -> list[Any]:
    """Publish or unpublish products (the admin's bulk actions); returns the ids of those that
    changed. A product without an active variant is not published (nothing could be sold)."""
    with atomic(PRODUCER):
        candidates = Product.objects.filter(pk__in=product_ids).exclude(active=active)
        if active:
            candidates = candidates.filter(Exists(Variant.objects.filter(product=OuterRef("pk"), active=True)))
        changing = list(candidates.values_list("pk", flat=True))
        before = selectors.variant_snapshots(product_ids=changing)
        Product.objects.filter(pk__in=changing).update(active=active, updated_at=timezone.now())
        product_updates_publish(before=before, product_ids=changing)
    return changing


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


def variant_skus_renamed(*, renamed: dict[int, tuple[str, str]]) -> int:
    """Carry SKU renames (variant id -> (old, new)) into the stock history, so a SKU's audit rows
    stay under one name. Only SKUs never ordered can be renamed (Variant.clean refuses the rest),
    so no reservation or order line names the old SKU. Returns how many audit rows moved."""
    moved = 0
    with atomic(PRODUCER):
        for variant_id, (_, new) in renamed.items():
            moved += StockAdjustment.objects.filter(variant_id=variant_id).update(sku=new)
    return moved


def products_history_log(*, user_id: int | None, product_ids: list[Any], message: str) -> None:
    """An admin history entry per product changed by a bulk change, written together."""
    if not product_ids or user_id is None:
        return
    LogEntry.objects.log_actions(
        user_id=user_id,
        queryset=Product.objects.filter(pk__in=product_ids).only("pk", "name"),
        action_flag=CHANGE,
        change_message=message,
        single_object=False,
    )
