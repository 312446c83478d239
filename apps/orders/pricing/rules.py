"""Reads of the pricing rules in orders' database: the destination's tax rates, the shipping
methods of the zone that covers an address, and the automatic promotions running now."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Prefetch, Q

from apps.orders.models import Promotion, ShippingMethod, ShippingRate, ShippingZone, TaxRate
from apps.orders.pricing.promotions import DiscountRule
from apps.orders.pricing.shipping import MethodRule


def tax_rates_for(*, country: str, region: str = "", on: datetime.date) -> dict[str, Decimal]:
    """tax class -> the rate in force at the destination on `on`; a region's own rate wins over
    its country's, the latest valid_from over older ones. Classes with no rate (and "exempt")
    are absent: no tax on them."""
    rows = TaxRate.objects.filter(country=country, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )
    rows = rows.filter(Q(region="") | Q(region=region)) if region else rows.filter(region="")
    return _latest(rows.values_list("tax_class", "region", "valid_from", "rate"))


def _latest(rows: Iterable[tuple[str, str, datetime.date, Decimal]]) -> dict[str, Decimal]:
    best: dict[str, tuple[bool, datetime.date, Decimal]] = {}
    for tax_class, region, valid_from, rate in rows:
        if tax_class == "exempt":
            continue
        if tax_class not in best or (bool(region), valid_from) > best[tax_class][:2]:
            best[tax_class] = (bool(region), valid_from, rate)
    return {tax_class: rate for tax_class, (_, _, rate) in best.items()}


def shipping_zone_for(*, country: str, region: str = "") -> ShippingZone | None:
    """The first active zone (by position) covering the address, with its active methods and
    their bands; None when the shop does not ship there."""
    methods = Prefetch(
        "methods",
        queryset=ShippingMethod.objects.filter(active=True).prefetch_related(
            Prefetch("rates", queryset=ShippingRate.objects.all())
        ),
    )
    for zone in ShippingZone.objects.filter(active=True).prefetch_related(methods):
        if country in zone.countries and (not zone.regions or region in zone.regions):
            return zone
    return None


def method_rules(*, zone: ShippingZone, currency: str) -> list[MethodRule]:
    """The zone's methods priced in the cart's currency, as the pricing function reads them."""
    return [
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
        if method.currency == currency
    ]


def promotions_running(*, now: datetime.datetime) -> list[DiscountRule]:
    running = Promotion.objects.filter(active=True).filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )
    return [
        DiscountRule(
            name=promotion.name,
            kind="percentage",
            value=promotion.percentage,
            skus=frozenset(promotion.skus),
            category_slugs=frozenset(promotion.category_slugs),
        )
        for promotion in running
    ]
