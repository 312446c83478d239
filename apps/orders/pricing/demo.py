"""Demo pricing rules (manage.py seed_pricing_demo, and the tests' baseline): shipping to the UK
and part of the EU, their tax rates, a welcome voucher and a free-shipping one. Idempotent."""

from __future__ import annotations

import datetime
from decimal import Decimal

from apps.orders.models import DiscountKind, ShippingMethod, ShippingRate, ShippingZone, TaxRate, Voucher

D = Decimal
SINCE = datetime.date(2020, 1, 1)
# country -> (standard, reduced) rates; zero-rated goods have a 0 rate everywhere.
TAX_RATES = {
    "GB": (D("0.20"), D("0.05")),
    "DE": (D("0.19"), D("0.07")),
    "FR": (D("0.20"), D("0.055")),
    "NL": (D("0.21"), D("0.09")),
    "AT": (D("0.20"), D("0.10")),
    "IE": (D("0.23"), D("0.135")),
}
# zone -> (countries, [(code, name, basis, free_from, days, [(up_to, price)])])
ZONES = {
    "United Kingdom": (
        ["GB"],
        [
            ("standard", "Standard", "weight", D("50.00"), (2, 4), [(D("30000"), D("4.90"))]),
            ("express", "Express", "weight", None, (1, 1), [(D("2000"), D("9.90")), (D("30000"), D("14.90"))]),
        ],
    ),
    "European Union": (
        ["DE", "FR", "NL", "AT", "IE"],
        [
            ("standard", "Standard", "weight", D("80.00"), (3, 6), [(D("2000"), D("6.90")), (D("30000"), D("12.90"))]),
            ("express", "Express", "value", None, (1, 2), [(None, D("19.90"))]),
        ],
    ),
}


def pricing_demo_seed(*, currency: str = "EUR") -> None:
    for position, (name, (countries, methods)) in enumerate(ZONES.items()):
        zone, _ = ShippingZone.objects.get_or_create(name=name, defaults={"countries": countries, "position": position})
        for method_position, (code, method_name, basis, free_from, (low, high), bands) in enumerate(methods):
            method, created = ShippingMethod.objects.get_or_create(
                zone=zone,
                code=code,
                defaults={
                    "name": method_name,
                    "currency": currency,
                    "rate_basis": basis,
                    "free_from": free_from,
                    "min_days": low,
                    "max_days": high,
                    "position": method_position,
                },
            )
            if created:
                ShippingRate.objects.bulk_create(ShippingRate(method=method, up_to=up, price=p) for up, p in bands)
    for country, (standard, reduced) in TAX_RATES.items():
        for tax_class, rate in (("standard", standard), ("reduced", reduced), ("zero", D("0"))):
            TaxRate.objects.get_or_create(
                country=country,
                region="",
                tax_class=tax_class,
                valid_from=SINCE,
                defaults={"rate": rate, "name": f"{country} {tax_class} {rate * 100:g} %"},
            )
    Voucher.objects.get_or_create(
        code="WELCOME10",
        defaults={"kind": DiscountKind.PERCENTAGE, "value": D("10"), "currency": currency, "min_spend": D("20.00")},
    )
    Voucher.objects.get_or_create(code="FREESHIP", defaults={"kind": DiscountKind.FREE_SHIPPING, "currency": currency})
