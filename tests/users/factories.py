"""Test data for the users service: plain functions, each making one valid object."""

from __future__ import annotations

import itertools
from typing import Any

from apps.users.models import Address, Customer

PASSWORD = "correct-horse-battery-staple"
_sequence = itertools.count(1)


def customer(*, password: str = PASSWORD, **fields: Any) -> Customer:
    number = next(_sequence)
    values = {
        "email": f"shopper{number}@example.com",
        "first_name": "Ada",
        "last_name": f"Shopper{number}",
        "phone": "+49 30 1234567",
        **fields,
    }
    instance = Customer(**values)
    instance.set_password(password)
    instance.save()
    return instance


def address(*, customer: Customer, **fields: Any) -> Address:
    values = {
        "full_name": customer.full_name or "Ada Shopper",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
        **fields,
    }
    return Address.objects.create(customer=customer, **values)


def address_input(**overrides: Any) -> dict[str, Any]:
    return {
        "label": "Home",
        "full_name": "Ada Shopper",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "de",
        **overrides,
    }
