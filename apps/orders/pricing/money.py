"""Money on the currency's minor unit: Decimal only, quantized with ROUND_HALF_UP, and shown as
a decimal string on that unit."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 minor units that differ from the usual 2.
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal("0.01") for EUR, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def money_str(amount: Decimal, currency: str) -> str:
    """An amount as a decimal string on the currency's minor unit ("34.90", not "34.9000" as the
    database column gives it back); an amount finer than the minor unit keeps its digits."""
    on_unit = quantize(amount, currency)
    return str(on_unit if on_unit == amount else amount.normalize())
