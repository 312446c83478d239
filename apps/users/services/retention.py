"""Pruning credentials that can no longer be used: expired refresh tokens (rotated, revoked or
simply aged out) and expired password reset tokens, used or not.

Only expired rows go: reuse detection needs a rotated token's row while the token could still be
presented, and an expired token is refused whatever its row says. The rows are kept
USERS_EXPIRED_CREDENTIALS_KEEP_SECONDS past their expiry so support can still read a recent
sign-out or reset in the admin."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.db import atomic
from apps.users.models import PasswordResetToken, RefreshToken
from apps.users.services.common import PRODUCER

logger = logging.getLogger(__name__)


def expired_credentials_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete refresh and reset tokens that expired more than the keep period ago; returns how
    many of each went."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.USERS_EXPIRED_CREDENTIALS_KEEP_SECONDS)
    with atomic(PRODUCER):
        refresh_tokens, _ = RefreshToken.objects.filter(expires_at__lt=cutoff).delete()
        reset_tokens, _ = PasswordResetToken.objects.filter(expires_at__lt=cutoff).delete()
    if refresh_tokens or reset_tokens:
        logger.info("pruned %s expired refresh tokens and %s expired reset tokens", refresh_tokens, reset_tokens)
    return {"refresh_tokens": refresh_tokens, "password_reset_tokens": reset_tokens}
