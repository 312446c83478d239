"""Sign-in and the token pair: sign-in, refresh rotation with its grace window, sign-out, sign-out
everywhere, and the issue and revocation of tokens that password changes and deactivation use."""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.core.auth.revocation import tokens_revoke
from apps.core.db import atomic
from apps.core.events import publish
from apps.core.lockout import lockout_check, lockout_clear, lockout_failure
from apps.users.contracts import events as contract
from apps.users.errors import InvalidCredentials, RefreshTokenInvalid, RefreshTokenReused
from apps.users.models import Customer, RefreshToken, normalize_email
from apps.users.rotation import rotation_recall, rotation_remember
from apps.users.services.common import (
    PRODUCER,
    SIGN_IN_LOCKOUT,
    burn_password_check_time,
    lock_customer,
    password_matches,
)
from apps.users.tokens import access_token_issue, new_secret, secret_hash

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


def token_pair_issue(*, customer: Customer, family_id: uuid.UUID, now: datetime) -> TokenPair:
    """Must run inside atomic("users"): it stores the new refresh token."""
    refresh_secret = new_secret()
    refresh = RefreshToken.objects.create(
        customer=customer,
        family_id=family_id,
        token_hash=secret_hash(refresh_secret),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.JWT_REFRESH_TOKEN_SECONDS),
    )
    access = access_token_issue(customer_id=customer.id, email=customer.email, now=now)
    return TokenPair(
        access_token=access.token,
        access_expires_at=access.expires_at,
        refresh_token=refresh_secret,
        refresh_expires_at=refresh.expires_at,
    )


def _refresh_tokens_revoke(*, now: datetime, reason: str, **filters: Any) -> int:
    return RefreshToken.objects.filter(revoked_at__isnull=True, **filters).update(revoked_at=now, revoke_reason=reason)


def customer_tokens_revoke(*, customer: Customer, now: datetime, reason: str) -> None:
    """Sign the shopper out everywhere: refresh tokens at once, and access tokens issued until
    now in users at once and in every other service as soon as `user.tokens_revoked` reaches it.
    Must run inside atomic("users"), with the customer row written (and so locked) in it."""
    _refresh_tokens_revoke(now=now, reason=reason, customer=customer)
    tokens_revoke(service=PRODUCER, subject_id=customer.id, not_before=now)
    payload = contract.TokensRevoked(customer_id=str(customer.id), not_before=now.isoformat(), reason=reason)
    publish(producer=PRODUCER, event_type=contract.TOKENS_REVOKED, payload=payload)


def customer_login(*, email: str, password: str) -> TokenPair:
    """Sign in: a new token family (one per sign-in, i.e. per device or session). A run of wrong
    passwords locks the email out (apps.core.lockout), known account or not."""
    email = normalize_email(email)
    lockout_check(scope=SIGN_IN_LOCKOUT, identifier=email)
    customer = Customer.objects.filter(email=email).first()
    if customer is None:
        burn_password_check_time(password)
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=email)
        raise InvalidCredentials()
    if not password_matches(customer, password) or not customer.is_active:
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=email)
        raise InvalidCredentials()
    lockout_clear(scope=SIGN_IN_LOCKOUT, identifier=email)
    now = timezone.now()
    with atomic(PRODUCER):
        customer.last_login = now
        customer.save(update_fields=["last_login"])
        return token_pair_issue(customer=customer, family_id=uuid.uuid4(), now=now)


def _rotation_replay(*, token: RefreshToken, refresh_token: str) -> TokenPair | None:
    """The pair the token's rotation answered, if it still stands: a session signed out since
    (sign-out, password change, deactivation, a later rotation) gets nothing."""
    answer = rotation_recall(refresh_token=refresh_token)
    if answer is None or not token.customer.is_active:
        return None
    pair = TokenPair(
        access_token=answer["access_token"],
        access_expires_at=datetime.fromisoformat(answer["access_expires_at"]),
        refresh_token=answer["refresh_token"],
        refresh_expires_at=datetime.fromisoformat(answer["refresh_expires_at"]),
    )
    live = RefreshToken.objects.filter(
        family_id=token.family_id, token_hash=secret_hash(pair.refresh_token), revoked_at__isnull=True
    )
    return pair if live.exists() else None


def token_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new one in its family replaces it. A spent
    (rotated) token presented again means two parties hold the family, one of them not the
    shopper, so the whole family is revoked and both must sign in again; except within
    USERS_REFRESH_GRACE_SECONDS of the rotation, when it is the same client refreshing twice at
    once and gets the same answer as the first time."""
    now = timezone.now()
    with atomic(PRODUCER):
        token = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(token_hash=secret_hash(refresh_token))
            .first()
        )
        if token is None:
            raise RefreshTokenInvalid()
        reused = token.revoke_reason == RefreshToken.RevokeReason.ROTATED
        if reused and token.revoked_at > now - timedelta(seconds=settings.USERS_REFRESH_GRACE_SECONDS):
            # The first rotation stored its answer before committing (it held the row lock this
            # request waited on), so a miss means the cache lost it: answer nothing either way.
            # A session signed out since (sign-out, password change, deactivation) stays out.
            replay = _rotation_replay(token=token, refresh_token=refresh_token)
            if replay is None:
                raise RefreshTokenInvalid()
            return replay
        if reused:
            _refresh_tokens_revoke(now=now, reason=RefreshToken.RevokeReason.REUSE, family_id=token.family_id)
        elif token.is_usable(now=now) and token.customer.is_active:
            token.revoked_at = now
            token.revoke_reason = RefreshToken.RevokeReason.ROTATED
            token.save(update_fields=["revoked_at", "revoke_reason"])
            pair = token_pair_issue(customer=token.customer, family_id=token.family_id, now=now)
            rotation_remember(refresh_token=refresh_token, answer=asdict(pair))
            return pair
    # Raised after the block so the family's revocation is committed, not rolled back.
    if reused:
        logger.warning(
            "refresh token reuse: family %s of customer %s revoked",
            token.family_id,
            token.customer_id,
            extra={"customer_id": str(token.customer_id), "token_family": str(token.family_id)},
        )
        raise RefreshTokenReused()
    raise RefreshTokenInvalid()


def token_revoke(*, refresh_token: str) -> None:
    """Sign out: end the session the refresh token belongs to (its whole family). Unknown or
    already revoked tokens are accepted silently, as RFC 7009 asks, so sign-out is idempotent."""
    now = timezone.now()
    with atomic(PRODUCER):
        token = RefreshToken.objects.filter(token_hash=secret_hash(refresh_token)).first()
        if token is not None:
            _refresh_tokens_revoke(now=now, reason=RefreshToken.RevokeReason.LOGOUT, family_id=token.family_id)


def customer_sign_out_everywhere(*, customer: Customer) -> None:
    """End every session of the shopper: all refresh token families and all access tokens."""
    now = timezone.now()
    with atomic(PRODUCER):
        lock_customer(customer.id)
        customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.LOGOUT_ALL)
