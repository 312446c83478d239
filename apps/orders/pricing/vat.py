"""EU VAT numbers, by FORMAT only (the country prefix and the national pattern; no check digits,
no VIES lookup: a well-formed number may still not be registered), and when an order to a
business buyer is reverse charged."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Prefix -> the pattern of what follows it. Greece's prefix is EL, its country code GR.
EU_VAT_FORMATS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01",
    "SI": r"[1-9]\d{7}",
    "SK": r"[1-9]\d{9}",
}
_PREFIX_COUNTRY = {"EL": "GR"}
EU_COUNTRIES = frozenset(_PREFIX_COUNTRY.get(prefix, prefix) for prefix in EU_VAT_FORMATS)
_PATTERNS = {prefix: re.compile(f"(?:{pattern})") for prefix, pattern in EU_VAT_FORMATS.items()}
# What people type between the characters of a VAT number.
_SEPARATORS = re.compile(r"[\s.\-]")


@dataclass(frozen=True)
class VatNumber:
    country: str  # ISO 3166-1 (GR for Greece's EL numbers)
    number: str  # normalised: prefix and national part, no separators ("DE123456789")


def vat_number_parse(value: str) -> VatNumber | None:
    """The EU VAT number in `value` (case, spaces, dots and hyphens ignored), or None when it is
    not one in form: an unknown prefix or a national part of the wrong shape."""
    normalised = _SEPARATORS.sub("", value or "").upper()
    prefix, national = normalised[:2], normalised[2:]
    pattern = _PATTERNS.get(prefix)
    if pattern is None or not pattern.fullmatch(national):
        return None
    return VatNumber(country=_PREFIX_COUNTRY.get(prefix, prefix), number=normalised)


def reverse_charge_applies(*, vat_number: VatNumber | None, destination_country: str, shop_country: str) -> bool:
    """An intra-EU supply to a business: the shop is established in an EU country, the buyer
    gives a VAT number (valid in form) of another EU country, and the goods go to that country.
    The buyer then accounts for the VAT (reverse charge) and the shop charges none."""
    return (
        vat_number is not None
        and shop_country in EU_COUNTRIES
        and vat_number.country != shop_country
        and destination_country == vat_number.country
    )
