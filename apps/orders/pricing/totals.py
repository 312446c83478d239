"""The pricing function, with no I/O: lines, discounts, shipping and tax to a breakdown whose parts
add up to the total by construction. Decimal only; every amount shown is on the currency's minor
unit, and each derived amount is split from an amount already on it, never rounded on its own.

Order of work: line amounts (unit price x quantity), automatic promotions (the best one per line),
the voucher on what is left, shipping (its free-from threshold sees the goods after discounts),
then tax, taken out of (prices with tax) or added to (prices without) each discounted amount.
Shipping follows the goods (the EU rule): it is split among the goods' tax rates in proportion to
their value, and each part is taxed at its rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from apps.orders.pricing.money import allocate, money_str, quantize
from apps.orders.pricing.promotions import DiscountRule
from apps.orders.pricing.shipping import MethodRule, method_price
from apps.orders.pricing.tax import ROUND_PER_LINE, tax_exact

ZERO = Decimal("0")


@dataclass(frozen=True)
class BasketLine:
    sku: str
    unit_price: Decimal  # as the shop enters it: with tax when prices include tax
    quantity: int
    tax_class: str = "standard"
    tax_rate: Decimal = ZERO  # the destination's rate for tax_class (set by basket.basket_price)
    weight_grams: int = 0
    category_slugs: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinePrice:
    sku: str
    quantity: int
    unit_price: Decimal
    amount: Decimal  # unit_price x quantity
    discount: Decimal
    tax_rate: Decimal
    tax: Decimal
    total: Decimal  # what the shopper pays for the line: discounted, tax included


@dataclass(frozen=True)
class TaxLine:
    rate: Decimal
    base: Decimal  # net amount taxed at `rate`
    tax: Decimal


@dataclass(frozen=True)
class AppliedDiscount:
    source: str  # "promotion" or "voucher"
    name: str
    amount: Decimal


@dataclass(frozen=True)
class Pricing:
    currency: str
    prices_include_tax: bool
    lines: list[LinePrice]
    subtotal: Decimal  # the lines' amounts, before discounts (gross when prices include tax)
    discount: Decimal
    shipping: Decimal  # after a free-shipping voucher or threshold (gross when prices include tax)
    shipping_tax: Decimal
    shipping_tax_rate: Decimal  # the rate for shipping when there are no goods to follow
    tax: Decimal  # goods and shipping; included in the total when prices include tax
    total: Decimal
    tax_lines: list[TaxLine]
    discounts: list[AppliedDiscount] = field(default_factory=list)
    shipping_method: MethodRule | None = None
    shipping_offered: bool = False  # the method has a band for this basket (else: not offered)
    shipping_tax_lines: list[TaxLine] = field(default_factory=list)  # shipping's parts, per rate
    reverse_charge: bool = False  # a business buyer in another EU country accounts for the VAT


def basket_calculate(
    *,
    lines: Sequence[BasketLine],
    currency: str,
    prices_include_tax: bool,
    rounding: str = ROUND_PER_LINE,
    promotions: Sequence[DiscountRule] = (),
    voucher: DiscountRule | None = None,
    shipping_method: MethodRule | None = None,
    shipping_tax_rate: Decimal = ZERO,
) -> Pricing:
    """Price `lines` for one destination. `voucher` must already be checked as usable (dates,
    limits, minimum spend): here it only applies. Without a shipping method, shipping is 0.
    `shipping_tax_rate` (the destination's standard rate) taxes shipping only when the basket has
    no goods' value for it to follow (every line free)."""
    amounts = [quantize(line.unit_price * line.quantity, currency) for line in lines]
    discounts = [ZERO] * len(lines)
    applied: dict[tuple[str, str], Decimal] = {}

    # Automatic promotions do not add up on a line: the one worth most to the shopper applies.
    for index, line in enumerate(lines):
        best, best_rule = ZERO, None
        for rule in promotions:
            if rule.applies_to(sku=line.sku, category_slugs=line.category_slugs):
                off = rule.line_discount(amounts[index], currency)
                if off > best:
                    best, best_rule = off, rule
        if best_rule is not None:
            discounts[index] = best
            key = ("promotion", best_rule.name)
            applied[key] = applied.get(key, ZERO) + best

    free_shipping = False
    if voucher is not None:
        eligible = [
            i for i, line in enumerate(lines) if voucher.applies_to(sku=line.sku, category_slugs=line.category_slugs)
        ]
        left = [amounts[i] - discounts[i] for i in eligible]
        if voucher.kind == "free_shipping":
            free_shipping = True
            off_by_line = [ZERO] * len(eligible)
        elif voucher.kind == "fixed":
            off_by_line = allocate(min(quantize(voucher.value, currency), sum(left, ZERO)), left, currency)
        else:
            off_by_line = [voucher.line_discount(amount, currency) for amount in left]
        for i, off in zip(eligible, off_by_line, strict=True):
            discounts[i] += off
        applied[("voucher", voucher.name)] = sum(off_by_line, ZERO)

    discounted = [amount - off for amount, off in zip(amounts, discounts, strict=True)]
    goods = sum(discounted, ZERO)

    shipping, shipping_offered = ZERO, shipping_method is not None
    if shipping_method is not None:
        band_price = method_price(method=shipping_method, weight_grams=_weight(lines), goods_value=goods)
        shipping_offered = band_price is not None
        if band_price is not None and not free_shipping:
            shipping = quantize(band_price, currency)

    # Tax, per line or per rate (the rounding setting); each part of shipping is one more taxed amount.
    shipping_parts = shipping_split(
        shipping=shipping,
        rates=[line.tax_rate for line in lines],
        values=discounted,
        fallback_values=amounts,
        fallback_rate=shipping_tax_rate,
        currency=currency,
    )
    taxed = [*discounted, *(part for _, part in shipping_parts)]
    rates = [line.tax_rate for line in lines] + [rate for rate, _ in shipping_parts]
    taxes = _taxes(taxed, rates, currency=currency, inclusive=prices_include_tax, rounding=rounding)
    line_taxes, shipping_taxes = taxes[: len(lines)], taxes[len(lines) :]
    shipping_tax = sum(shipping_taxes, ZERO)

    priced = [
        LinePrice(
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=amounts[i],
            discount=discounts[i],
            tax_rate=line.tax_rate,
            tax=line_taxes[i],
            total=discounted[i] if prices_include_tax else discounted[i] + line_taxes[i],
        )
        for i, line in enumerate(lines)
    ]
    tax = sum(taxes, ZERO)
    subtotal = sum(amounts, ZERO)
    discount = sum(discounts, ZERO)
    total = subtotal - discount + shipping + (ZERO if prices_include_tax else tax)
    return Pricing(
        currency=currency,
        prices_include_tax=prices_include_tax,
        lines=priced,
        subtotal=subtotal,
        discount=discount,
        shipping=shipping,
        shipping_tax=shipping_tax,
        shipping_tax_rate=shipping_tax_rate,
        tax=tax,
        total=total,
        tax_lines=_tax_lines(taxed, rates, taxes, inclusive=prices_include_tax),
        discounts=[AppliedDiscount(source, name, amount) for (source, name), amount in applied.items() if amount > 0],
        shipping_method=shipping_method,
        shipping_offered=shipping_offered,
        shipping_tax_lines=_tax_lines(
            [part for _, part in shipping_parts],
            [rate for rate, _ in shipping_parts],
            shipping_taxes,
            inclusive=prices_include_tax,
        ),
    )


def shipping_split(
    *,
    shipping: Decimal,
    rates: Sequence[Decimal],
    values: Sequence[Decimal],
    fallback_values: Sequence[Decimal],
    fallback_rate: Decimal,
    currency: str,
) -> list[tuple[Decimal, Decimal]]:
    """(rate, part of `shipping`) pairs, by rate: shipping shared among the goods' tax rates in
    proportion to the goods' value at each rate (`values`, after discounts; `fallback_values`,
    before them, when the discounts took everything), the parts on the minor unit and adding up
    to `shipping` exactly. Goods at one rate: all of shipping at that rate. No goods' value at
    all: all of it at `fallback_rate`."""
    if shipping == 0:
        return []
    for weights in (values, fallback_values):
        by_rate: dict[Decimal, Decimal] = {}
        for rate, value in zip(rates, weights, strict=True):
            by_rate[rate] = by_rate.get(rate, ZERO) + value
        by_rate = {rate: value for rate, value in by_rate.items() if value > 0}
        if by_rate:
            ordered = sorted(by_rate)
            parts = allocate(shipping, [by_rate[rate] for rate in ordered], currency)
            return [(rate, part) for rate, part in zip(ordered, parts, strict=True) if part != 0]
    return [(fallback_rate, shipping)]


def _weight(lines: Sequence[BasketLine]) -> int:
    return sum(line.weight_grams * line.quantity for line in lines)


def _taxes(
    amounts: Sequence[Decimal], rates: Sequence[Decimal], *, currency: str, inclusive: bool, rounding: str
) -> list[Decimal]:
    if rounding == ROUND_PER_LINE:
        return [quantize(tax_exact(a, r, inclusive=inclusive), currency) for a, r in zip(amounts, rates, strict=True)]
    # Per total: each rate's tax is rounded once, then shared among its amounts (largest
    # remainder), so lines still carry a tax that refunds can give back.
    taxes = [ZERO] * len(amounts)
    for rate in set(rates):
        members = [i for i, r in enumerate(rates) if r == rate]
        exact = [tax_exact(amounts[i], rate, inclusive=inclusive) for i in members]
        rate_tax = quantize(sum(exact, ZERO), currency)
        for i, share in zip(members, allocate(rate_tax, exact, currency), strict=True):
            taxes[i] = share
    return taxes


def _tax_lines(
    amounts: Sequence[Decimal], rates: Sequence[Decimal], taxes: Sequence[Decimal], *, inclusive: bool
) -> list[TaxLine]:
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for amount, rate, tax in zip(amounts, rates, taxes, strict=True):
        if amount == 0:
            continue
        base, total = by_rate.get(rate, (ZERO, ZERO))
        by_rate[rate] = (base + (amount - tax if inclusive else amount), total + tax)
    return [TaxLine(rate=rate, base=base, tax=tax) for rate, (base, tax) in sorted(by_rate.items())]


def tax_breakdown(pricing: Pricing) -> list[dict[str, str]]:
    """The per-rate breakdown as the order keeps it (decimal strings, never floats)."""
    return [
        {
            "rate": str(line.rate),
            "base": money_str(line.base, pricing.currency),
            "tax": money_str(line.tax, pricing.currency),
        }
        for line in pricing.tax_lines
    ]


def line_refund_amount(
    *, line_total: Decimal, quantity: int, already_refunded: int, refunding: int, currency: str
) -> Decimal:
    """What refunding `refunding` more units of a line gives back: the pro-rata part of what was
    paid for the line (discounted, with its tax). Counted cumulatively, so refunding every unit,
    in any steps, gives back exactly the line's total and never a minor unit more."""
    before = quantize(line_total * already_refunded / quantity, currency)
    after = quantize(line_total * (already_refunded + refunding) / quantity, currency)
    return after - before
