"""No card number (PAN), CVC or payment method token is stored by the payments service."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models

from apps.core.events.handlers import deliver
from tests.payments import factories

SENSITIVE_NAMES = ("pan", "card_number", "cardnumber", "cvc", "cvv", "expiry", "token", "payment_method")


def _payments_models():
    return apps.get_app_config("payments").get_models()


def test_no_model_has_a_field_for_card_data_or_tokens():
    for model in _payments_models():
        for field in model._meta.get_fields():
            name = field.name.lower()
            assert not any(word in name.split("_") or name.startswith(word) for word in SENSITIVE_NAMES), (
                f"{model.__name__}.{field.name}"
            )


def test_the_only_card_details_kept_are_brand_and_last_four_digits():
    for model in _payments_models():
        for field in model._meta.get_fields():
            if "card" in field.name:
                assert field.name in {"card_brand", "card_last4"}
                if field.name == "card_last4":
                    assert isinstance(field, models.CharField) and field.max_length == 4


@pytest.mark.django_db(databases="__all__", transaction=True)
@pytest.mark.parametrize("token", ["tok_visa", "tok_decline", "5555 5555 5555 4444"])
def test_after_a_payment_no_row_holds_the_token(token):
    deliver("payments", factories.payment_requested(payment_method_token=token))

    needle = token.replace(" ", "")
    for model in _payments_models():
        for row in model.objects.values():
            for value in row.values():
                text = str(value).replace(" ", "")
                assert needle not in text, f"{model.__name__} stores the token"
