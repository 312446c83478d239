"""Tax arithmetic: the tax in an amount, whether the shop's prices include it or not, and how it
is rounded (per line or per total, the ORDERS_TAX_ROUNDING setting)."""

from __future__ import annotations

from decimal import Decimal

ROUND_PER_LINE = "line"
ROUND_PER_TOTAL = "total"
ROUNDINGS = (ROUND_PER_LINE, ROUND_PER_TOTAL)
# Shipping follows the goods' rates (totals.shipping_split); this class's rate taxes it only when
# the basket has no goods' value to follow.
SHIPPING_TAX_CLASS = "standard"


def tax_exact(amount: Decimal, rate: Decimal, *, inclusive: bool) -> Decimal:
    """The tax in `amount` at `rate`, unrounded: the part of it that is tax when prices include
    tax (amount x rate / (1 + rate)), the tax to add to it when they do not (amount x rate)."""
    return amount * rate / (1 + rate) if inclusive else amount * rate
