"""Customer accounts: registration (which also emails the link verifying the address), profile
updates, staff edits in the admin and deactivation, and the user.registered and user.updated events
they publish."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
from apps.users.contracts import events as contract
from apps.users.errors import EmailTaken
from apps.users.models import Customer, RefreshToken, normalize_email
from apps.users.services.common import PRODUCER, publish_user_updated, validate_new_password
from apps.users.services.emails import email_verification_publish
from apps.users.services.tokens import customer_tokens_revoke

PROFILE_FIELDS = ("first_name", "last_name", "phone")


def _publish_user_registered(customer: Customer) -> None:
    payload = contract.UserRegistered(
        customer_id=str(customer.id),
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        phone=customer.phone,
        phone_verified=customer.phone_verified,
    )
    publish(producer=PRODUCER, event_type=contract.USER_REGISTERED, payload=payload)


def customer_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> Customer:
    customer = Customer(email=normalize_email(email), first_name=first_name, last_name=last_name, phone=phone)
    customer.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    validate_new_password(password=password, customer=customer, field="password")
    customer.set_password(password)
    with atomic(PRODUCER):
        if Customer.objects.filter(email=customer.email).exists():
            raise EmailTaken()
        try:
            with atomic(PRODUCER):
                customer.save(force_insert=True)
        except IntegrityError as error:  # a concurrent registration of the same email won the race
            raise EmailTaken() from error
        _publish_user_registered(customer)
        email_verification_publish(customer=customer)
    return customer


def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    """Update the profile fields present in `data`; publishes user.updated if anything changed."""
    changed = [field for field in PROFILE_FIELDS if field in data and getattr(customer, field) != data[field]]
    if not changed:
        return customer
    for field in changed:
        setattr(customer, field, data[field])
    if "phone" in changed and customer.phone_verified_at is not None:
        # A verification proves one number; a new one must be proved again before it gets texts.
        customer.phone_verified_at = None
        changed.append("phone_verified_at")
    customer.full_clean(exclude=["password", "email"], validate_unique=False, validate_constraints=False)
    with atomic(PRODUCER):
        customer.save(update_fields=[*changed, "updated_at"])
        publish_user_updated(customer)
    return customer


def customer_admin_save(*, customer: Customer, changed_fields: list[str]) -> Customer:
    """A staff edit in the admin: the same event as a shopper's edit, and deactivation signs the
    shopper out everywhere (their refresh tokens stop working at once). A changed phone is
    unverified, as when the shopper changes it."""
    if "phone" in changed_fields:
        customer.phone_verified_at = None
    with atomic(PRODUCER):
        customer.save()
        if "is_active" in changed_fields and not customer.is_active:
            customer_tokens_revoke(customer=customer, now=timezone.now(), reason=RefreshToken.RevokeReason.DEACTIVATED)
        if changed_fields:
            publish_user_updated(customer)
    return customer


def customers_deactivate(*, customer_ids: list[uuid.UUID]) -> int:
    """Deactivate several customers (the admin action); returns how many were active."""
    count = 0
    with atomic(PRODUCER):
        for customer in Customer.objects.select_for_update().filter(pk__in=customer_ids, is_active=True):
            customer.is_active = False
            customer_admin_save(customer=customer, changed_fields=["is_active"])
            count += 1
    return count
