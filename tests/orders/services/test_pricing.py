"""Totals: Decimal throughout, each amount quantized once (ROUND_HALF_UP), parts add up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.orders.pricing.money import minor_unit, quantize
from apps.orders.pricing.totals import PricedLine, line_refund_amount, totals_calculate


def totals(lines, currency="EUR", *, flat="4.90", threshold="50.00", tax="0.20"):
    return totals_calculate(
        lines=[PricedLine(sku=sku, unit_price=Decimal(price), quantity=qty) for sku, price, qty in lines],
        currency=currency,
        shipping_flat_rate=Decimal(flat),
        free_shipping_threshold=Decimal(threshold),
        tax_rate=Decimal(tax),
    )


def test_minor_units():
    assert minor_unit("EUR") == Decimal("0.01")
    assert minor_unit("JPY") == Decimal("1")
    assert minor_unit("KWD") == Decimal("0.001")


def test_half_up_not_bankers_rounding():
    assert quantize(Decimal("0.125"), "EUR") == Decimal("0.13")
    assert quantize(Decimal("0.135"), "EUR") == Decimal("0.14")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")


def test_tax_is_rounded_once_on_the_exact_subtotal():
    # Given three lines whose tax, rounded per line, would be 3 x 0.07 = 0.21
    result = totals([("A", "0.33", 1), ("B", "0.33", 1), ("C", "0.33", 1)], tax="0.20")
    # Then the tax is 20% of 0.99 = 0.198 -> 0.20, rounded once
    assert result.subtotal == Decimal("0.99")
    assert result.tax == Decimal("0.20")
    assert result.shipping == Decimal("4.90")
    assert result.total == result.subtotal + result.shipping + result.tax == Decimal("6.09")
    assert all(isinstance(value, Decimal) for value in (result.subtotal, result.tax, result.total))


def test_sub_cent_prices_are_summed_exactly_then_rounded():
    result = totals([("A", "0.005", 3)], tax="0")
    assert result.subtotal == Decimal("0.02")  # 0.015 -> 0.02 half up


def test_free_shipping_from_the_threshold_on():
    assert totals([("A", "50.00", 1)]).shipping == Decimal("0.00")
    assert totals([("A", "49.99", 1)]).shipping == Decimal("4.90")


def test_empty_cart_has_no_shipping():
    assert totals([]).total == Decimal("0.00")


def test_zero_decimal_currency():
    result = totals([("A", "999", 3)], "JPY", flat="500", threshold="5000", tax="0.10")
    assert result.subtotal == Decimal("2997")
    assert result.tax == Decimal("300")  # 299.7 -> 300
    assert result.shipping == Decimal("500")
    assert result.total == Decimal("3797")


@pytest.mark.parametrize(("price", "qty", "expected"), [("19.99", 1, "23.99"), ("12.50", 2, "30.00")])
def test_line_refund_includes_its_tax(price, qty, expected):
    amount = line_refund_amount(unit_price=Decimal(price), quantity=qty, tax_rate=Decimal("0.20"), currency="EUR")
    assert amount == Decimal(expected)
