"""Card numbers (PANs) where none belongs: one detector for every service, used to refuse them at
the edge (a payment method token, an address line) and to redact them from logs.

A PAN here is 12-19 digits, optionally grouped by single spaces or dashes, not part of a longer
run of letters or digits. Where the value must be a provider's token, any such run is refused,
Luhn-valid or not: tokens never look like that, and a card number with one digit mistyped is
still most of a card number. In free text (addresses, log lines) only Luhn-valid runs count, so
phone numbers, order numbers and timestamps are left alone nine times in ten."""

from __future__ import annotations

import re
from typing import Any

_PAN_RUN = re.compile(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){11,18}(?![0-9A-Za-z])")
REDACTED = "[card number redacted]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _digits(run: str) -> str:
    return re.sub(r"[ -]", "", run)


def has_card_number_shape(value: str) -> bool:
    """True when `value` holds a PAN-shaped run anywhere, Luhn-valid or not (for token fields)."""
    return _PAN_RUN.search(value) is not None


def contains_card_number(text: str) -> bool:
    """True when `text` holds a Luhn-valid PAN-shaped run (for free text)."""
    return any(luhn_valid(_digits(match.group())) for match in _PAN_RUN.finditer(text))


def redact_card_numbers(text: str) -> str:
    """`text` with every Luhn-valid PAN-shaped run replaced by REDACTED."""
    return _PAN_RUN.sub(lambda match: REDACTED if luhn_valid(_digits(match.group())) else match.group(), text)


def redact_card_numbers_in(value: Any) -> Any:
    """A JSON-like structure with card numbers redacted in every string and number it holds."""
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return REDACTED if contains_card_number(str(value)) else value
    if isinstance(value, dict):
        return {key: redact_card_numbers_in(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_card_numbers_in(item) for item in value]
    return value
