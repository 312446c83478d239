"""A shopper's addresses, with at most one default."""

from __future__ import annotations

import uuid
from typing import Any

from apps.core.db import atomic
from apps.users.models import Address
from apps.users.services.common import PRODUCER, lock_customer

ADDRESS_FIELDS = (
    "label",
    "full_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "is_default",
)


def _address_save(address: Address, *, update_fields: list[str] | None = None) -> Address:
    address.full_clean(exclude=["customer"], validate_constraints=False)
    if address.is_default:
        Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(pk=address.pk).update(
            is_default=False
        )
    address.save(update_fields=update_fields)
    return address


def address_create(*, customer_id: uuid.UUID, data: dict[str, Any]) -> Address:
    with atomic(PRODUCER):
        lock_customer(customer_id)
        address = Address(customer_id=customer_id, **{field: data[field] for field in ADDRESS_FIELDS if field in data})
        # A shopper's first address is their default: checkout has something to prefill.
        if not Address.objects.filter(customer_id=customer_id).exists():
            address.is_default = True
        return _address_save(address)


def address_update(*, address: Address, data: dict[str, Any]) -> Address:
    changed = [field for field in ADDRESS_FIELDS if field in data and getattr(address, field) != data[field]]
    if not changed:
        return address
    with atomic(PRODUCER):
        lock_customer(address.customer_id)
        for field in changed:
            setattr(address, field, data[field])
        return _address_save(address, update_fields=[*changed, "updated_at"])


def address_delete(*, address: Address) -> None:
    with atomic(PRODUCER):
        address.delete()
