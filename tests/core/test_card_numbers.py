"""The one card number detector: what counts as a card number where a token belongs and in free
text, and the redaction every log line goes through."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from apps.core.cards import REDACTED, contains_card_number, has_card_number_shape, redact_card_numbers_in
from apps.core.logging import JSONFormatter, PlainFormatter

VISA = "4242424242424242"


@pytest.mark.parametrize(
    ("value", "shaped", "luhn_card"),
    [
        (VISA, True, True),
        ("4242 4242 4242 4242", True, True),
        ("4000-0566-5566-5556", True, True),
        ("378282246310005", True, True),  # American Express, 15 digits
        ("my card: 5555 5555 5555 4444, thanks", True, True),
        ("4242424242424241", True, False),  # one digit off: shaped, not Luhn-valid
        ("tok_visa", False, False),
        ("pm_1Nx2Yz4242424242424242", False, False),  # part of a longer token, not a number on its own
        ("12345", False, False),
        ("Unter den Linden 1, 10117 Berlin", False, False),
        ("order SO-7K2M9PQ4XZ of 2026-11-30", False, False),
        ("0b9f3a0e-8d43-4a8e-9f0a-5b1c2d3e4f50", False, False),
    ],
)
def test_card_numbers_are_recognised(value, shaped, luhn_card):
    assert has_card_number_shape(value) is shaped
    assert contains_card_number(value) is luhn_card


def test_redaction_reaches_every_string_and_number_of_a_structure():
    payload = {"note": f"card {VISA}", "nested": [{"pan": int(VISA)}], "amount": 3490, "ok": True}

    assert redact_card_numbers_in(payload) == {
        "note": f"card {REDACTED}",
        "nested": [{"pan": REDACTED}],
        "amount": 3490,
        "ok": True,
    }


def _record(message: str, *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord("shop", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_log_lines_never_carry_a_card_number():
    record = _record("checkout with token %s", "4242 4242 4242 4242", line2=f"pay {VISA}", phone="+49 30 1234567")
    try:
        raise ValueError(f"bad token {VISA}")
    except ValueError:
        record.exc_info = sys.exc_info()

    line = JSONFormatter().format(record)
    plain = PlainFormatter("%(message)s %(line2)s").format(record)

    for text in (line, plain):
        assert "4242" not in text
        assert REDACTED in text
    entry = json.loads(line)
    assert entry["phone"] == "+49 30 1234567"
    assert entry["message"] == f"checkout with token {REDACTED}"
