"""Discount arithmetic for vouchers and automatic promotions: which lines a rule applies to and
what it takes off them. Checking a voucher (dates, limits, minimum spend) is vouchers.py's job."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.orders.pricing.money import quantize


@dataclass(frozen=True)
class DiscountRule:
    name: str  # the promotion's name or the voucher's code
    kind: str  # "percentage", "fixed" or "free_shipping"
    value: Decimal  # 10 for 10 %, or the amount off
    skus: frozenset[str] = frozenset()
    category_slugs: frozenset[str] = frozenset()

    def applies_to(self, *, sku: str, category_slugs: tuple[str, ...]) -> bool:
        """Unrestricted rules apply to every line; a restricted one to its SKUs and categories."""
        if not self.skus and not self.category_slugs:
            return True
        return sku in self.skus or bool(self.category_slugs.intersection(category_slugs))

    def line_discount(self, amount: Decimal, currency: str) -> Decimal:
        """A percentage's share of one line (a fixed amount is shared by the caller)."""
        if self.kind != "percentage":
            return Decimal("0")
        return min(amount, quantize(amount * self.value / 100, currency))
