"""What several stories of the users service share: the producer name, the sign-in lockout scope,
the password checks, the customer row lock and the user.updated event."""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError

from apps.core.events import publish
from apps.core.exceptions import ValidationFailed
from apps.users.contracts import events as contract
from apps.users.models import Customer
from apps.users.tokens import new_secret

PRODUCER = "users"
# One lockout count per account for every check of a shopper's password (sign-in, change).
SIGN_IN_LOCKOUT = "sign_in"
# A hash to check a password against when the email is unknown, so a failed sign-in takes as long
# whether or not the account exists (made lazily: the hasher comes from settings).
_dummy_password_hash: str | None = None


def publish_user_updated(customer: Customer) -> None:
    payload = contract.UserUpdated(
        customer_id=str(customer.id),
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        phone=customer.phone,
        is_active=customer.is_active,
        phone_verified=customer.phone_verified,
    )
    publish(producer=PRODUCER, event_type=contract.USER_UPDATED, payload=payload)


def validate_new_password(*, password: str, customer: Customer, field: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS, with the customer as the "user" so the similarity
    validator compares against their email and names."""
    try:
        validate_password(password, user=customer)
    except DjangoValidationError as error:
        raise ValidationFailed({field: list(error.messages)}) from error


def password_matches(customer: Customer, raw_password: str) -> bool:
    def upgrade(raw: str) -> None:
        # Django's hasher upgrade: re-hash with the current preferred hasher on a successful check.
        customer.password = make_password(raw)
        customer.save(update_fields=["password"])

    return check_password(raw_password, customer.password, setter=upgrade)


def burn_password_check_time(raw_password: str) -> None:
    global _dummy_password_hash
    if _dummy_password_hash is None:
        _dummy_password_hash = make_password(new_secret())
    check_password(raw_password, _dummy_password_hash)


def lock_customer(customer_id: uuid.UUID) -> None:
    # Serialises a shopper's address writes, so two "make this the default" requests cannot
    # both pass and then trip the one-default constraint.
    Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True).first()
