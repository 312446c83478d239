"""Input validators every service's serializers share: card numbers are refused where none belongs
(apps.core.cards says what counts as one)."""

from __future__ import annotations

from rest_framework import serializers

from apps.core.cards import contains_card_number, has_card_number_shape

CARD_NUMBER_REFUSED = "card_number_refused"


def refuse_card_number_token(value: str) -> None:
    """For a payment method token: any card-number-shaped run is refused, Luhn-valid or not."""
    if has_card_number_shape(value):
        raise serializers.ValidationError(
            "This looks like a card number. Send the payment provider's token for the card, never the number.",
            code=CARD_NUMBER_REFUSED,
        )


def refuse_card_number_text(value: str) -> None:
    """For free text that travels in events and logs (names, address lines): a card number is refused."""
    if contains_card_number(value):
        raise serializers.ValidationError("A card number does not belong here.", code=CARD_NUMBER_REFUSED)
