"""Money arithmetic for carts and orders, with no I/O: Decimal only, each amount quantized once to
the currency's minor unit, and the total the sum of the parts shown."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from apps.orders.pricing.money import quantize


@dataclass(frozen=True)
class PricedLine:
    sku: str
    unit_price: Decimal
    quantity: int

    @property
    def exact_total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


def totals_calculate(
    *,
    lines: Iterable[PricedLine],
    currency: str,
    shipping_flat_rate: Decimal,
    free_shipping_threshold: Decimal,
    tax_rate: Decimal,
) -> Totals:
    """Subtotal, shipping (flat, free from the threshold on), tax on the goods, and the total.

    Every intermediate stays exact; subtotal, shipping and tax are each quantized once, and the
    total is their sum (already on the minor unit), so the parts always add up to it."""
    lines = list(lines)
    exact_subtotal = sum((line.exact_total for line in lines), Decimal("0"))
    subtotal = quantize(exact_subtotal, currency)
    free = not lines or exact_subtotal >= free_shipping_threshold
    shipping = Decimal("0") if free else shipping_flat_rate
    shipping = quantize(shipping, currency)
    tax = quantize(exact_subtotal * tax_rate, currency)
    return Totals(currency=currency, subtotal=subtotal, shipping=shipping, tax=tax, total=subtotal + shipping + tax)


def line_refund_amount(*, unit_price: Decimal, quantity: int, tax_rate: Decimal, currency: str) -> Decimal:
    """What refunding `quantity` units gives back: their price with the tax charged on it."""
    return quantize(unit_price * quantity * (1 + tax_rate), currency)
