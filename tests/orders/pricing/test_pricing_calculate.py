"""The pricing function (no I/O): examples for each rule, and hypothesis properties of the
invariants (parts add up, nothing negative, minor units, refunds within what was paid)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.orders.pricing.money import allocate, minor_unit, quantize
from apps.orders.pricing.promotions import DiscountRule
from apps.orders.pricing.shipping import MethodRule
from apps.orders.pricing.tax import tax_exact
from apps.orders.pricing.totals import BasketLine, basket_calculate, line_refund_amount

D = Decimal
STANDARD = MethodRule("standard", "Standard", "EUR", "weight", [(D("30000"), D("4.90"))], free_from=D("50.00"))


def price(lines, *, inclusive=False, rate="0.20", rounding="total", voucher=None, promotions=(), method=STANDARD):
    return basket_calculate(
        lines=[BasketLine(sku=sku, unit_price=D(p), quantity=q, tax_rate=D(rate)) for sku, p, q in lines],
        currency="EUR",
        prices_include_tax=inclusive,
        rounding=rounding,
        promotions=promotions,
        voucher=voucher,
        shipping_method=method,
        shipping_tax_rate=D(rate),
    )


def test_minor_units_and_half_up_rounding():
    assert (minor_unit("EUR"), minor_unit("JPY"), minor_unit("KWD")) == (D("0.01"), D("1"), D("0.001"))
    assert quantize(D("0.125"), "EUR") == D("0.13")
    assert quantize(D("2.5"), "JPY") == D("3")


def test_exclusive_prices_tax_is_added_and_shipping_is_taxed():
    result = price([("A", "10.00", 2)])
    assert (result.subtotal, result.shipping, result.tax, result.total) == (
        D("20.00"),
        D("4.90"),
        D("4.98"),
        D("29.88"),
    )
    assert result.shipping_tax == D("0.98")


def mixed(lines, *, inclusive=False, voucher=None, standard="0.20"):
    return basket_calculate(
        lines=[BasketLine(sku=sku, unit_price=D(p), quantity=q, tax_rate=D(r)) for sku, p, q, r in lines],
        currency="EUR",
        prices_include_tax=inclusive,
        rounding="line",
        voucher=voucher,
        shipping_method=STANDARD,
        shipping_tax_rate=D(standard),
    )


def test_shipping_follows_the_goods_rates_in_proportion_to_their_value():
    # 25.00 at 20 % and 9.99 at 0 %: shipping 4.90 splits 3.50 / 1.40 (25 : 9.99, to the cent).
    result = mixed([("MUG", "12.50", 2, "0.20"), ("BOOK", "9.99", 1, "0")])
    assert [(t.rate, t.base, t.tax) for t in result.shipping_tax_lines] == [
        (D("0"), D("1.40"), D("0.00")),
        (D("0.20"), D("3.50"), D("0.70")),
    ]
    assert result.shipping_tax == D("0.70")
    assert (result.tax, result.total) == (D("5.70"), D("45.59"))
    assert [(t.rate, t.base, t.tax) for t in result.tax_lines] == [
        (D("0"), D("11.39"), D("0.00")),
        (D("0.20"), D("28.50"), D("5.70")),
    ]


def test_shipping_of_goods_at_one_rate_is_taxed_at_that_rate_not_the_standard_one():
    reduced = mixed([("BOOK", "10.00", 2, "0.05")])
    zero_rated = mixed([("BOOK", "10.00", 2, "0")])
    assert reduced.shipping_tax == D("0.25")  # 5 % of 4.90 = 0.245
    assert zero_rated.shipping_tax == D("0")


def test_shipping_with_prices_including_tax_is_split_on_the_gross_and_tax_taken_out_of_each_part():
    result = mixed([("TEE", "20.00", 1, "0.19"), ("BOOK", "10.00", 1, "0.07")], inclusive=True)
    # 4.90 x 20/30 = 3.2667 -> 3.27 at 19 % (0.52 in it); 1.63 at 7 % (0.11 in it).
    assert [(t.rate, t.base + t.tax, t.tax) for t in result.shipping_tax_lines] == [
        (D("0.07"), D("1.63"), D("0.11")),
        (D("0.19"), D("3.27"), D("0.52")),
    ]
    assert result.total == D("34.90")


def test_shipping_with_every_line_discounted_to_nothing_follows_the_goods_before_discount():
    everything = DiscountRule("ALL", "percentage", D("100"))
    result = mixed([("TEE", "20.00", 1, "0.20"), ("BOOK", "20.00", 1, "0")], voucher=everything)
    assert [(t.rate, t.base) for t in result.shipping_tax_lines] == [(D("0"), D("2.45")), (D("0.20"), D("2.45"))]
    assert result.shipping_tax == D("0.49")


def test_per_total_rounding_rounds_each_rate_once():
    # Three lines whose tax rounded per line would be 3 x 0.07 = 0.21; per total 20 % of 0.99 (+ shipping).
    per_total = price([("A", "0.33", 1), ("B", "0.33", 1), ("C", "0.33", 1)], method=None)
    per_line = price([("A", "0.33", 1), ("B", "0.33", 1), ("C", "0.33", 1)], method=None, rounding="line")
    assert per_total.tax == D("0.20")
    assert per_line.tax == D("0.21")
    assert sum(line.tax for line in per_total.lines) == per_total.tax


def test_free_shipping_from_the_threshold_seen_after_discounts():
    assert price([("A", "50.00", 1)]).shipping == D("0")
    ten_off = DiscountRule("TEN", "percentage", D("10"))
    assert price([("A", "50.00", 1)], voucher=ten_off).shipping == D("4.90")


def test_inclusive_prices_discount_on_the_gross_and_tax_taken_out_of_what_is_paid():
    # 19.99 with 20 % VAT, 10 % off: the shopper pays 17.99; tax is 17.99/1.2 x 0.2 = 3.00 of it.
    voucher = DiscountRule("TEN", "percentage", D("10"))
    result = price([("A", "19.99", 1)], inclusive=True, voucher=voucher)
    line = result.lines[0]
    assert (line.discount, line.total, line.tax) == (D("2.00"), D("17.99"), D("3.00"))
    assert result.total == result.subtotal - result.discount + result.shipping == D("22.89")
    assert result.tax == line.tax + result.shipping_tax == D("3.00") + D("0.82")


def test_fixed_voucher_is_shared_among_eligible_lines_to_the_minor_unit():
    voucher = DiscountRule("FIVE", "fixed", D("5.00"), skus=frozenset({"A", "B"}))
    result = price([("A", "10.00", 1), ("B", "20.00", 1), ("C", "7.00", 1)], voucher=voucher)
    assert [line.discount for line in result.lines] == [D("1.67"), D("3.33"), D("0")]


def test_fixed_voucher_never_exceeds_the_goods():
    result = price([("A", "3.00", 1)], voucher=DiscountRule("BIG", "fixed", D("50.00")))
    assert result.discount == D("3.00")
    assert result.lines[0].total == D("0")


def test_free_shipping_voucher():
    result = price([("A", "10.00", 1)], voucher=DiscountRule("SHIP", "free_shipping", D("0")))
    assert result.shipping == result.shipping_tax == D("0")


def test_best_automatic_promotion_wins_per_line_then_the_voucher_applies_on_what_is_left():
    promotions = [
        DiscountRule("Tees 10 %", "percentage", D("10"), category_slugs=frozenset({"tees"})),
        DiscountRule("Weekend 20 %", "percentage", D("20")),
    ]
    voucher = DiscountRule("TEN", "percentage", D("10"))
    result = basket_calculate(
        lines=[BasketLine("A", D("100.00"), 1, category_slugs=("tees",))],
        currency="EUR",
        prices_include_tax=False,
        promotions=promotions,
        voucher=voucher,
    )
    # 20 % (the better promotion) = 20.00, then 10 % of the 80.00 left = 8.00
    assert result.discount == D("28.00")
    assert {(d.source, d.name, d.amount) for d in result.discounts} == {
        ("promotion", "Weekend 20 %", D("20.00")),
        ("voucher", "TEN", D("8.00")),
    }


def test_weight_bands_and_too_heavy_is_not_offered():
    express = MethodRule("express", "Express", "EUR", "weight", [(D("2000"), D("9.90")), (D("5000"), D("14.90"))])
    light = basket_calculate(lines=[BasketLine("A", D("1"), 1, weight_grams=1500)], currency="EUR",
                             prices_include_tax=False, shipping_method=express)  # fmt: skip
    heavy = basket_calculate(lines=[BasketLine("A", D("1"), 3, weight_grams=1500)], currency="EUR",
                             prices_include_tax=False, shipping_method=express)  # fmt: skip
    too_heavy = basket_calculate(lines=[BasketLine("A", D("1"), 4, weight_grams=1500)], currency="EUR",
                                 prices_include_tax=False, shipping_method=express)  # fmt: skip
    assert (light.shipping, heavy.shipping) == (D("9.90"), D("14.90"))
    assert light.shipping_offered and not too_heavy.shipping_offered


def test_zero_decimal_currency():
    result = basket_calculate(
        lines=[BasketLine("A", D("999"), 3, tax_rate=D("0.10"))], currency="JPY", prices_include_tax=False
    )
    assert (result.subtotal, result.tax, result.total) == (D("2997"), D("300"), D("3297"))


@pytest.mark.parametrize(("steps", "expected"), [([1, 1, 1], ["3.33", "3.34", "3.33"]), ([2, 1], ["6.67", "3.33"])])
def test_line_refunds_add_up_to_what_was_paid_for_the_line(steps, expected):
    done, refunds = 0, []
    for step in steps:
        refunds.append(
            line_refund_amount(line_total=D("10.00"), quantity=3, already_refunded=done, refunding=step, currency="EUR")
        )
        done += step
    assert refunds == [D(e) for e in expected]
    assert sum(refunds) == D("10.00")


# --- Properties ----------------------------------------------------------------------------------

money = st.decimals(min_value=D("0.00"), max_value=D("999.99"), places=2)
rates = st.sampled_from([D("0"), D("0.05"), D("0.07"), D("0.19"), D("0.20"), D("0.21"), D("0.055")])
line_strategy = st.tuples(money, st.integers(min_value=1, max_value=20), rates, st.booleans())
voucher_strategy = st.one_of(
    st.none(),
    st.builds(lambda v: DiscountRule("P", "percentage", v), st.decimals(min_value=1, max_value=100, places=0)),
    st.builds(lambda v: DiscountRule("F", "fixed", v), money),
    st.just(DiscountRule("S", "free_shipping", D("0"))),
    st.builds(
        lambda v: DiscountRule("R", "percentage", v, skus=frozenset({"L0"})),
        st.decimals(min_value=1, max_value=100, places=0),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(line_strategy, min_size=1, max_size=10),
    voucher=voucher_strategy,
    promotion=st.one_of(st.none(), st.decimals(min_value=1, max_value=50, places=0)),
    inclusive=st.booleans(),
    rounding=st.sampled_from(["line", "total"]),
    shipping_rate=rates,
)
def test_the_parts_always_add_up_to_the_total(lines, voucher, promotion, inclusive, rounding, shipping_rate):
    promotions = [DiscountRule("Auto", "percentage", promotion, skus=frozenset({"L1"}))] if promotion else []
    result = basket_calculate(
        lines=[BasketLine(f"L{i}", unit, qty, tax_rate=rate) for i, (unit, qty, rate, _) in enumerate(lines)],
        currency="EUR",
        prices_include_tax=inclusive,
        rounding=rounding,
        promotions=promotions,
        voucher=voucher,
        shipping_method=STANDARD,
        shipping_tax_rate=shipping_rate,
    )
    cent = D("0.01")
    amounts = [result.subtotal, result.discount, result.shipping, result.tax, result.total, result.shipping_tax]
    for line in result.lines:
        amounts += [line.amount, line.discount, line.tax, line.total]
    # Every amount is on the minor unit, and none is negative.
    assert all(amount == amount.quantize(cent) and amount >= 0 for amount in amounts)
    # The total is lines - discounts + shipping (+ tax when prices exclude it).
    if inclusive:
        assert result.total == result.subtotal - result.discount + result.shipping
        assert result.tax <= result.total
    else:
        assert result.total == result.subtotal - result.discount + result.shipping + result.tax
    # The lines carry the discount and the tax, and the totals are theirs.
    assert result.discount == sum(line.discount for line in result.lines)
    assert result.tax == sum(line.tax for line in result.lines) + result.shipping_tax
    assert result.total == sum(line.total for line in result.lines) + result.shipping + (
        D("0") if inclusive else result.shipping_tax
    )
    assert all(line.discount <= line.amount for line in result.lines)
    assert sum(t.tax for t in result.tax_lines) == result.tax
    _assert_shipping_follows_the_goods(result, lines, inclusive=inclusive, rounding=rounding, standard=shipping_rate)


def _assert_shipping_follows_the_goods(result, lines, *, inclusive, rounding, standard):
    cent = D("0.01")
    parts = {t.rate: t.base + (t.tax if inclusive else 0) for t in result.shipping_tax_lines}
    # The parts are on the minor unit and add up to shipping exactly; their taxes to shipping's tax.
    assert all(part == part.quantize(cent) and part > 0 for part in parts.values())
    assert sum(parts.values(), D("0")) == result.shipping
    assert sum(t.tax for t in result.shipping_tax_lines) == result.shipping_tax
    value_by_rate: dict = {}
    for line, (_, _, rate, _) in zip(result.lines, lines, strict=True):
        value_by_rate[rate] = value_by_rate.get(rate, D("0")) + line.amount - line.discount
    goods = sum(value_by_rate.values(), D("0"))
    if result.shipping and goods > 0:
        # Each rate's part is its goods' share of shipping, to within one minor unit.
        for rate, value in value_by_rate.items():
            assert abs(parts.get(rate, D("0")) - result.shipping * value / goods) < cent
    if len({rate for _, _, rate, _ in lines}) == 1 and rounding == "line":
        # One rate: shipping is taxed at it, exactly as a line of its own would be (at the
        # standard rate when the goods are worth nothing even before discounts).
        rate = lines[0][2] if result.subtotal > 0 else standard
        assert result.shipping_tax == quantize(tax_exact(result.shipping, rate, inclusive=inclusive), "EUR")


@settings(max_examples=300, deadline=None)
@given(line_total=money, quantity=st.integers(min_value=1, max_value=20), data=st.data())
def test_refunding_a_line_in_any_steps_never_gives_back_more_than_was_paid(line_total, quantity, data):
    done, refunded = 0, D("0")
    while done < quantity:
        step = data.draw(st.integers(min_value=1, max_value=quantity - done))
        amount = line_refund_amount(
            line_total=line_total, quantity=quantity, already_refunded=done, refunding=step, currency="EUR"
        )
        assert amount >= 0 and amount == amount.quantize(D("0.01"))
        refunded += amount
        done += step
        assert refunded <= line_total
    assert refunded == line_total


@given(total=money, weights=st.lists(money, min_size=1, max_size=10))
def test_allocation_is_exact_and_within_each_weight(total, weights):
    total = min(total, sum(weights))
    shares = allocate(total, weights, "EUR")
    assert sum(shares) == total
    if sum(weights) > 0:
        assert all(D("0") <= share <= weight for share, weight in zip(shares, weights, strict=True))
