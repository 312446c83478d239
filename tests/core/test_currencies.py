"""The one ISO 4217 check every service uses: active currency codes with their minor units; codes
that are three capitals but no currency (XXX, XTS, metals, fund units, withdrawn) are refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.core.currencies import currency_validator, is_currency, minor_unit, minor_units


@pytest.mark.parametrize(("code", "units"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KWD", 3), ("XOF", 0), ("CHF", 2)])
def test_active_currencies_are_accepted_with_their_minor_units(code, units):
    assert is_currency(code)
    currency_validator(code)
    assert minor_units(code) == units
    assert minor_unit(code) == Decimal(1).scaleb(-units)


@pytest.mark.parametrize(
    "code",
    ["XXX", "XTS", "XAU", "XDR", "USN", "HRK", "SLL", "ABC", "eur", "EURO", " EUR", "", None, 978],
)
def test_anything_else_is_refused(code):
    assert not is_currency(code)
    with pytest.raises(ValidationError) as error:
        currency_validator(code)
    assert error.value.code == "invalid_currency"


def test_a_non_currency_has_no_minor_unit():
    with pytest.raises(KeyError):
        minor_unit("XXX")
