"""Money on the currency's minor unit: Decimal only, quantized with ROUND_HALF_UP, and shown as
a decimal string on that unit."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from apps.core.currencies import minor_unit


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def money_str(amount: Decimal, currency: str) -> str:
    """An amount as a decimal string on the currency's minor unit ("34.90", not "34.9000" as the
    database column gives it back); an amount finer than the minor unit keeps its digits."""
    on_unit = quantize(amount, currency)
    return str(on_unit if on_unit == amount else amount.normalize())


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `total` (on the minor unit) in proportion to `weights`, every share on the minor
    unit and the shares adding up to `total` exactly (largest remainder). With total at most the
    sum of the weights, no share exceeds its weight."""
    unit = minor_unit(currency)
    weight_sum = sum(weights, Decimal("0"))
    if not weights:
        return []
    if weight_sum <= 0:
        return [total] + [Decimal("0")] * (len(weights) - 1) if total else [Decimal("0")] * len(weights)
    exact = [total * weight / weight_sum for weight in weights]
    shares = [share.quantize(unit, rounding=ROUND_DOWN) for share in exact]
    left = int((total - sum(shares, Decimal("0"))) / unit)
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - exact[i], i))
    for i in by_remainder[:left]:
        shares[i] += unit
    return shares
