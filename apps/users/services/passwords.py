"""Passwords: a signed-in change, and the reset by emailed link (request, send, confirm). Either
signs every session out."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
from apps.core.exceptions import ValidationFailed
from apps.core.lockout import lockout_check, lockout_clear, lockout_failure
from apps.core.sealing import seal
from apps.users.contracts import events as contract
from apps.users.errors import ResetTokenInvalid
from apps.users.models import Customer, PasswordResetToken, RefreshToken, normalize_email
from apps.users.services.common import PRODUCER, SIGN_IN_LOCKOUT, password_matches, validate_new_password
from apps.users.services.tokens import TokenPair, customer_tokens_revoke, token_pair_issue
from apps.users.tokens import new_secret, secret_hash

logger = logging.getLogger(__name__)


def customer_change_password(*, customer: Customer, current_password: str, new_password: str) -> TokenPair:
    """Change the password, sign out every other session, and return a fresh token pair so the
    caller stays signed in. A wrong current password counts toward the account's sign-in
    lockout: a stolen access token must not become a way to guess the password."""
    lockout_check(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
    if not password_matches(customer, current_password):
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
        raise ValidationFailed({"current_password": ["The current password is incorrect."]})
    validate_new_password(password=new_password, customer=customer, field="new_password")
    now = timezone.now()
    with atomic(PRODUCER):
        customer.set_password(new_password)
        customer.save(update_fields=["password", "updated_at"])
        customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.PASSWORD)
        # Issued at the revocation's instant, so its `iat` is not before it: this pair stays valid.
        pair = token_pair_issue(customer=customer, family_id=uuid.uuid4(), now=now)
    lockout_clear(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
    return pair


def _reset_url(token: str) -> str:
    base = settings.SHOP_FRONTEND_URL.rstrip("/")
    path = "/" + settings.USERS_PASSWORD_RESET_PATH.lstrip("/")
    return f"{base}{path}?{urlencode({'token': token})}"


def password_reset_request(*, email: str) -> None:
    """Queue the reset for `email` and return: the request does the same work whether or not
    an account has it (no lookup), so neither the answer nor its timing tells. The task sends
    the link (password_reset_send)."""
    # Imported here: tasks.py imports this module.
    from apps.core.tasks import enqueue
    from apps.users.tasks import send_password_reset

    enqueue(PRODUCER, send_password_reset, email=normalize_email(email))


def password_reset_send(*, email: str) -> None:
    """Send a reset link if an active account has this email; nothing otherwise. The link
    carries the only copy of the token; the database keeps its hash, the event only the sealed
    link (see apps.core.sealing)."""
    customer = Customer.objects.filter(email=normalize_email(email), is_active=True).first()
    if customer is None:
        logger.info("password reset requested for an unknown or inactive email")
        return
    token = new_secret()
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.USERS_PASSWORD_RESET_TOKEN_SECONDS)
    with atomic(PRODUCER):
        PasswordResetToken.objects.create(
            customer=customer, token_hash=secret_hash(token), created_at=now, expires_at=expires_at
        )
        payload = contract.PasswordResetRequested(
            customer_id=str(customer.id),
            email=customer.email,
            first_name=customer.first_name,
            sealed_reset_url=seal(_reset_url(token)),
            expires_at=expires_at.isoformat(),
        )
        publish(producer=PRODUCER, event_type=contract.PASSWORD_RESET_REQUESTED, payload=payload)


def password_reset_confirm(*, token: str, new_password: str) -> None:
    """Set a new password with a reset token. Every outstanding reset token of the account is
    spent with it, and every session is signed out."""
    now = timezone.now()
    with atomic(PRODUCER):
        reset = (
            PasswordResetToken.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(token_hash=secret_hash(token))
            .first()
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now or not reset.customer.is_active:
            raise ResetTokenInvalid()
        customer = reset.customer
        # A too-weak password rolls everything back: the token stays usable for a better one.
        validate_new_password(password=new_password, customer=customer, field="new_password")
        customer.set_password(new_password)
        customer.save(update_fields=["password", "updated_at"])
        PasswordResetToken.objects.filter(customer=customer, used_at__isnull=True).update(used_at=now)
        customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.PASSWORD)
