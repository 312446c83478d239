"""EU VAT numbers checked in form (prefix and national pattern, no check digits, no lookup) and
when a business buyer is reverse charged."""

from __future__ import annotations

import pytest

from apps.orders.pricing.vat import EU_COUNTRIES, VatNumber, reverse_charge_applies, vat_number_parse


@pytest.mark.parametrize(
    ("typed", "country", "number"),
    [
        ("DE123456789", "DE", "DE123456789"),
        ("de 123.456.789", "DE", "DE123456789"),
        ("ATU12345678", "AT", "ATU12345678"),
        ("EL123456789", "GR", "EL123456789"),
        ("FR 1A 123456789", "FR", "FR1A123456789"),
        ("NL123456789B01", "NL", "NL123456789B01"),
        ("IE1234567T", "IE", "IE1234567T"),
        ("IE1234567TA", "IE", "IE1234567TA"),
        ("IE1A23456T", "IE", "IE1A23456T"),
        ("ESX1234567X", "ES", "ESX1234567X"),
        ("BE0123456789", "BE", "BE0123456789"),
        ("SE123456789001", "SE", "SE123456789001"),
        ("CY12345678L", "CY", "CY12345678L"),
    ],
)
def test_numbers_in_form_are_read_with_their_country(typed, country, number):
    assert vat_number_parse(typed) == VatNumber(country=country, number=number)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "DE12345678",  # one digit short
        "DE1234567890",  # one too many
        "ATU1234567",
        "AT12345678",  # Austria's start with U
        "GR123456789",  # Greece's prefix is EL
        "GB123456789",  # not an EU country
        "XX123456789",
        "NL123456789A01",
        "BE2123456789",
        "SE123456789002",
        "123456789",
    ],
)
def test_numbers_not_in_form_are_refused(typed):
    assert vat_number_parse(typed) is None


def test_every_member_state_has_a_format():
    assert len(EU_COUNTRIES) == 27 and "GR" in EU_COUNTRIES and "GB" not in EU_COUNTRIES


GERMAN = VatNumber(country="DE", number="DE123456789")


@pytest.mark.parametrize(
    ("vat_number", "destination", "shop", "applies"),
    [
        (GERMAN, "DE", "IE", True),  # an Irish shop, a German business, delivered in Germany
        (GERMAN, "DE", "DE", False),  # a domestic sale pays the shop's VAT
        (GERMAN, "AT", "IE", False),  # delivered elsewhere than the number's country
        (GERMAN, "DE", "", False),  # the shop has no EU establishment set
        (GERMAN, "DE", "GB", False),  # the shop is outside the EU
        (None, "DE", "IE", False),  # a consumer
    ],
)
def test_reverse_charge_is_for_a_business_in_another_eu_country_delivered_there(vat_number, destination, shop, applies):
    assert reverse_charge_applies(vat_number=vat_number, destination_country=destination, shop_country=shop) is applies
