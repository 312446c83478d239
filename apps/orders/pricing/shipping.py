"""Shipping arithmetic: a method's price for a basket's weight or value, from its bands and its
free-from threshold. The zones and methods themselves live in orders' database (rules.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class MethodRule:
    code: str
    name: str
    currency: str
    rate_basis: str  # "weight" (grams) or "value" (the goods after discounts)
    bands: Sequence[tuple[Decimal | None, Decimal]]  # (up_to or None for no limit, price), ascending
    free_from: Decimal | None = None
    min_days: int = 0
    max_days: int = 0


def method_price(*, method: MethodRule, weight_grams: int, goods_value: Decimal) -> Decimal | None:
    """The method's price, or None when no band takes the basket (too heavy: not offered)."""
    measure = Decimal(weight_grams) if method.rate_basis == "weight" else goods_value
    for up_to, price in method.bands:
        if up_to is None or measure <= up_to:
            if method.free_from is not None and goods_value >= method.free_from:
                return Decimal("0")
            return price
    return None
