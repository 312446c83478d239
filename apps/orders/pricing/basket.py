"""The one pricing entry point that the cart and the checkout both call: it reads the rules for
the destination (tax rates, the zone's shipping methods, running promotions, the voucher) and
hands them to the pure pricing function (totals.basket_calculate)."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.orders.errors import ShippingDestinationUnsupported, ShippingMethodUnavailable
from apps.orders.models import Voucher
from apps.orders.pricing.countries import COUNTRIES
from apps.orders.pricing.rules import promotions_running, shipping_methods_for, tax_rates_for
from apps.orders.pricing.tax import SHIPPING_TAX_CLASS
from apps.orders.pricing.totals import BasketLine, Pricing, basket_calculate
from apps.orders.pricing.vat import VatNumber, reverse_charge_applies, vat_number_parse
from apps.orders.pricing.vouchers import voucher_check, voucher_rule


@dataclass(frozen=True)
class Destination:
    country: str
    region: str = ""
    vat_number: VatNumber | None = None  # a business buyer's, when given

    @classmethod
    def parse(cls, *, country: str, region: str = "", vat_number: str = "") -> Destination:
        """An address's destination; a country that is not ISO 3166-1 is a 400, and so is a VAT
        number that is not an EU one in form."""
        country = (country or "").strip().upper()
        if country not in COUNTRIES:
            raise ValidationFailed({"country": ["Not an ISO 3166-1 alpha-2 country code."]}, code="invalid_country")
        region = (region or "").strip().upper()
        # ISO 3166-2 codes carry their country ("ES-CN"); a bare subdivision ("CN") gets it.
        if region and "-" not in region:
            region = f"{country}-{region}"
        vat = None
        if (vat_number or "").strip():
            vat = vat_number_parse(vat_number)
            if vat is None:
                raise ValidationFailed(
                    {"vat_number": ["Not an EU VAT number in form (country prefix, then the national pattern)."]},
                    code="invalid_vat_number",
                )
        return cls(country=country, region=region, vat_number=vat)


@dataclass(frozen=True)
class PricedBasket:
    pricing: Pricing
    voucher: Voucher | None
    options: list[Pricing]  # the basket priced with each method offered (the shipping quote)


def basket_price(
    *,
    lines: Sequence[BasketLine],
    currency: str,
    destination: Destination,
    shipping_method: str | None = None,
    voucher_code: str = "",
    customer_id: uuid.UUID | None = None,
    now: datetime.datetime | None = None,
) -> PricedBasket:
    """Price the basket for `destination`, with `shipping_method` (the cheapest offered when
    None) and the voucher `voucher_code` if any. Refusals, each with its own code: the shop does
    not ship there, the method is not offered, and the voucher's (see vouchers.voucher_check)."""
    now = now or timezone.now()
    # Reverse charge needs net prices to charge: a shop whose prices include tax charges its tax.
    reverse_charge = not settings.ORDERS_PRICES_INCLUDE_TAX and reverse_charge_applies(
        vat_number=destination.vat_number,
        destination_country=destination.country,
        shop_country=settings.ORDERS_SHOP_COUNTRY,
    )
    rates = (
        {} if reverse_charge else tax_rates_for(country=destination.country, region=destination.region, on=now.date())
    )
    lines = [dataclasses.replace(line, tax_rate=rates.get(line.tax_class, Decimal("0"))) for line in lines]

    methods = shipping_methods_for(country=destination.country, region=destination.region, currency=currency)
    if methods is None:
        raise ShippingDestinationUnsupported(extra={"country": destination.country, "region": destination.region})

    voucher = None
    if voucher_code:
        voucher = voucher_check(
            code=voucher_code,
            currency=currency,
            lines=[(line.sku, line.category_slugs, line.unit_price * line.quantity) for line in lines],
            customer_id=customer_id,
            now=now,
        )

    promotions = promotions_running(now=now)
    options = [
        basket_calculate(
            lines=lines,
            currency=currency,
            prices_include_tax=settings.ORDERS_PRICES_INCLUDE_TAX,
            rounding=settings.ORDERS_TAX_ROUNDING,
            promotions=promotions,
            voucher=voucher_rule(voucher) if voucher is not None else None,
            shipping_method=method,
            shipping_tax_rate=rates.get(SHIPPING_TAX_CLASS, Decimal("0")),
        )
        for method in methods
    ]
    options = [dataclasses.replace(o, reverse_charge=reverse_charge) for o in options if o.shipping_offered]
    if shipping_method is None:
        if not options:
            raise ShippingMethodUnavailable(extra={"country": destination.country})
        pricing = min(options, key=lambda option: option.total)
    else:
        pricing = next((option for option in options if option.shipping_method.code == shipping_method), None)
        if pricing is None:
            raise ShippingMethodUnavailable(extra={"shipping_method": shipping_method, "country": destination.country})
    return PricedBasket(pricing=pricing, voucher=voucher, options=options)
