"""Reads of the users service."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.core.exceptions import NotFound
from apps.users.errors import AccountUnavailable
from apps.users.models import Address, Customer, normalize_email


def customer_get_active(*, customer_id: uuid.UUID) -> Customer:
    """The customer an access token speaks for; a deactivated account's tokens stop working here
    at once, although other services accept them until they expire (minutes)."""
    customer = Customer.objects.filter(pk=customer_id, is_active=True).first()
    if customer is None:
        raise AccountUnavailable()
    return customer


def customer_find_by_email(*, email: str) -> Customer | None:
    return Customer.objects.filter(email=normalize_email(email)).first()


def address_list(*, customer_id: uuid.UUID) -> QuerySet[Address]:
    return Address.objects.filter(customer_id=customer_id).order_by("created_at", "id")


def address_get(*, customer_id: uuid.UUID, address_id: uuid.UUID) -> Address:
    """The shopper's own address; another shopper's id is 404, exactly like a missing one."""
    address = Address.objects.filter(customer_id=customer_id, pk=address_id).first()
    if address is None:
        raise NotFound("No such address.")
    return address
