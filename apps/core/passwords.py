"""Password rules beyond Django's validators, for shoppers and staff alike: a password must be
made of visible characters, not padded with whitespace to reach the minimum length."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# Spaces of every kind (incl. no-break), controls and format characters (zero-width space,
# joiners, direction marks): none of them can be seen, so none counts toward the length.
_INVISIBLE_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}


def _visible(password: str) -> int:
    return sum(1 for char in password if unicodedata.category(char) not in _INVISIBLE_CATEGORIES)


class VisibleCharactersValidator:
    """At least `min_length` visible characters, and no whitespace at either end: a stored
    password is never trimmed (the hash is of exactly what was typed), so an edge space a
    shopper cannot see would lock them out on a device that drops it."""

    def __init__(self, min_length: int = 8):
        self.min_length = min_length

    def validate(self, password: str, user=None) -> None:
        if password and not (_visible(password[0]) and _visible(password[-1])):
            raise ValidationError(
                "The password must not begin or end with a space or another invisible character.",
                code="password_edge_whitespace",
            )
        if _visible(password) < self.min_length:
            raise ValidationError(
                "The password must contain at least %(min_length)d visible characters (spaces do not count).",
                code="password_too_few_visible",
                params={"min_length": self.min_length},
            )

    def get_help_text(self) -> str:
        return (
            f"Your password must contain at least {self.min_length} visible characters and must not begin "
            "or end with a space."
        )
