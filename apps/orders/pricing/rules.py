"""Reads of the pricing rules in orders' database: the destination's tax rates, the shipping
methods of the zone that covers an address, and the automatic promotions running now.

The rules change rarely and are read on every cart view and checkout, so each process keeps them
for ORDERS_PRICING_RULES_CACHE_SECONDS (30 s by default); a change saved in this process (the
admin) clears its copy at once, other processes see it within that time. Vouchers are never
cached: their use counts are read live."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from apps.orders.models import Promotion, ShippingMethod, ShippingRate, ShippingZone, TaxRate
from apps.orders.pricing.promotions import DiscountRule
from apps.orders.pricing.shipping import MethodRule

T = TypeVar("T")
_cache: dict[Any, tuple[float, Any]] = {}
_lock = threading.Lock()


def _cached(key: Any, load: Callable[[], T]) -> T:
    ttl = settings.ORDERS_PRICING_RULES_CACHE_SECONDS
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = load()
    if ttl > 0:
        with _lock:
            _cache[key] = (now + ttl, value)
    return value


def pricing_rules_forget(**_: Any) -> None:
    """Drop this process's copy of the rules (connected to every rule model's save and delete)."""
    with _lock:
        _cache.clear()


for _model in (ShippingZone, ShippingMethod, ShippingRate, TaxRate, Promotion):
    post_save.connect(pricing_rules_forget, sender=_model, dispatch_uid=f"pricing_rules_forget_save_{_model.__name__}")
    post_delete.connect(
        pricing_rules_forget, sender=_model, dispatch_uid=f"pricing_rules_forget_delete_{_model.__name__}"
    )


def tax_rates_for(*, country: str, region: str = "", on: datetime.date) -> dict[str, Decimal]:
    """tax class -> the rate in force at the destination on `on`; a region's own rate wins over
    its country's, the latest valid_from over older ones. Classes with no rate (and "exempt")
    are absent: no tax on them."""
    rows = _cached(
        ("tax", country),
        lambda: list(
            TaxRate.objects.filter(country=country).values_list(
                "tax_class", "region", "valid_from", "valid_until", "rate"
            )
        ),
    )
    in_force = [
        (tax_class, row_region, valid_from, rate)
        for tax_class, row_region, valid_from, valid_until, rate in rows
        if valid_from <= on and (valid_until is None or valid_until >= on) and row_region in ("", region)
    ]
    return _latest(in_force)


def _latest(rows: Iterable[tuple[str, str, datetime.date, Decimal]]) -> dict[str, Decimal]:
    best: dict[str, tuple[bool, datetime.date, Decimal]] = {}
    for tax_class, region, valid_from, rate in rows:
        if tax_class == "exempt":
            continue
        if tax_class not in best or (bool(region), valid_from) > best[tax_class][:2]:
            best[tax_class] = (bool(region), valid_from, rate)
    return {tax_class: rate for tax_class, (_, _, rate) in best.items()}


def _zones() -> list[tuple[list[str], list[str], list[MethodRule]]]:
    zones = ShippingZone.objects.filter(active=True).prefetch_related("methods__rates")
    return [
        (
            zone.countries,
            zone.regions,
            [
                MethodRule(
                    code=method.code,
                    name=method.name,
                    currency=method.currency,
                    rate_basis=method.rate_basis,
                    bands=[(rate.up_to, rate.price) for rate in method.rates.all()],
                    free_from=method.free_from,
                    min_days=method.min_days,
                    max_days=method.max_days,
                )
                for method in zone.methods.all()
                if method.active
            ],
        )
        for zone in zones
    ]


def shipping_methods_for(*, country: str, region: str = "", currency: str) -> list[MethodRule] | None:
    """The methods (priced in `currency`) of the first active zone, by position, covering the
    address; None when the shop does not ship there."""
    for countries, regions, methods in _cached("zones", _zones):
        if country in countries and (not regions or region in regions):
            return [method for method in methods if method.currency == currency]
    return None


def promotions_running(*, now: datetime.datetime) -> list[DiscountRule]:
    rows = _cached(
        "promotions",
        lambda: list(
            Promotion.objects.filter(active=True).values_list(
                "name", "percentage", "skus", "category_slugs", "starts_at", "ends_at"
            )
        ),
    )
    return [
        DiscountRule(
            name=name, kind="percentage", value=percentage, skus=frozenset(skus), category_slugs=frozenset(slugs)
        )
        for name, percentage, skus, slugs, starts_at, ends_at in rows
        if (starts_at is None or starts_at <= now) and (ends_at is None or ends_at > now)
    ]
