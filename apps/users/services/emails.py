"""Email verification: a signed link emailed to the account's address at registration (and again
on request), sealed in its event like the reset link, and its confirmation, which publishes
user.email_verified. Other services wait for that proof before trusting the address as the
shopper's: orders hands an account the guest orders placed with its email only then, so signing
up with someone else's address shows nothing of theirs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
from apps.core.sealing import seal
from apps.users.contracts import events as contract
from apps.users.errors import EmailAlreadyVerified, EmailVerificationTokenInvalid
from apps.users.models import Customer
from apps.users.services.common import PRODUCER

# The token is the account id and the address, signed with users' SECRET_KEY and timestamped:
# nothing to store, and a link for an address the account no longer has proves nothing.
_SALT = "shopstack.users.email-verification"


def _verify_url(token: str) -> str:
    base = settings.SHOP_FRONTEND_URL.rstrip("/")
    path = "/" + settings.USERS_EMAIL_VERIFY_PATH.lstrip("/")
    return f"{base}{path}?{urlencode({'token': token})}"


def email_verification_publish(*, customer: Customer) -> None:
    """Publish the verification link for the account's email (inside the caller's transaction)."""
    token = signing.dumps({"customer": str(customer.id), "email": customer.email}, salt=_SALT)
    expires_at = timezone.now() + timedelta(seconds=settings.USERS_EMAIL_VERIFICATION_SECONDS)
    payload = contract.EmailVerificationRequested(
        customer_id=str(customer.id),
        email=customer.email,
        first_name=customer.first_name,
        sealed_verify_url=seal(_verify_url(token)),
        expires_at=expires_at.isoformat(),
    )
    publish(producer=PRODUCER, event_type=contract.EMAIL_VERIFICATION_REQUESTED, payload=payload)


def email_verification_request(*, customer: Customer) -> None:
    """Email a new verification link (an earlier one keeps working until it expires)."""
    if customer.email_verified:
        raise EmailAlreadyVerified()
    with atomic(PRODUCER):
        email_verification_publish(customer=customer)


def email_verification_confirm(*, token: str) -> Customer:
    """Mark the account's email verified and publish user.email_verified, once: confirming again
    (a second click) changes nothing and publishes nothing. A forged or expired token, or one for
    an address the account no longer has, is EmailVerificationTokenInvalid (400)."""
    try:
        claim = signing.loads(token, salt=_SALT, max_age=settings.USERS_EMAIL_VERIFICATION_SECONDS)
        customer_id, email = str(claim["customer"]), str(claim["email"])
    except (signing.BadSignature, KeyError, TypeError) as error:
        raise EmailVerificationTokenInvalid() from error
    with atomic(PRODUCER):
        customer = Customer.objects.select_for_update().filter(pk=customer_id, email=email, is_active=True).first()
        if customer is None:
            raise EmailVerificationTokenInvalid()
        if customer.email_verified:
            return customer
        customer.email_verified_at = timezone.now()
        customer.save(update_fields=["email_verified_at", "updated_at"])
        publish(
            producer=PRODUCER,
            event_type=contract.EMAIL_VERIFIED,
            payload=contract.EmailVerified(customer_id=str(customer.id), email=customer.email),
        )
    return customer
