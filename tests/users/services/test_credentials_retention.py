"""The hourly sweep deletes refresh and reset tokens a day after they expired, and nothing that
could still be presented: a live session keeps working and reuse of a rotated token is still
caught."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.users.models import PasswordResetToken, RefreshToken
from apps.users.services import retention, tokens
from apps.users.tokens import new_secret, secret_hash
from tests.users import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def _reset_token(customer, *, expires_in: timedelta) -> PasswordResetToken:
    return PasswordResetToken.objects.create(
        customer=customer, token_hash=secret_hash(new_secret()), expires_at=timezone.now() + expires_in
    )


def test_expired_credentials_are_pruned_after_the_keep_period(customer, settings):
    settings.USERS_EXPIRED_CREDENTIALS_KEEP_SECONDS = 24 * 60 * 60
    # Given one session that aged out two days ago, one that expired an hour ago and a live one
    old = tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    recent = tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    live = tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    now = timezone.now()
    RefreshToken.objects.filter(token_hash=secret_hash(old.refresh_token)).update(expires_at=now - timedelta(days=2))
    RefreshToken.objects.filter(token_hash=secret_hash(recent.refresh_token)).update(
        expires_at=now - timedelta(hours=1)
    )
    # and reset tokens: one long expired (used), one expired recently, one still valid
    used = _reset_token(customer, expires_in=-timedelta(days=3))
    used.used_at = now - timedelta(days=3)
    used.save()
    expired_recently = _reset_token(customer, expires_in=-timedelta(hours=2))
    valid = _reset_token(customer, expires_in=timedelta(minutes=30))

    # When the sweep runs
    pruned = retention.expired_credentials_prune()

    # Then only what expired more than a day ago is gone
    assert pruned == {"refresh_tokens": 1, "password_reset_tokens": 1}
    remaining = set(RefreshToken.objects.values_list("token_hash", flat=True))
    assert secret_hash(old.refresh_token) not in remaining
    assert {secret_hash(recent.refresh_token), secret_hash(live.refresh_token)} <= remaining
    assert set(PasswordResetToken.objects.values_list("pk", flat=True)) == {expired_recently.pk, valid.pk}
    # and the live session still refreshes
    assert tokens.token_refresh(refresh_token=live.refresh_token).refresh_token


def test_the_sweep_keeps_rotated_tokens_of_a_live_family_so_reuse_is_still_caught(customer, settings):
    settings.USERS_REFRESH_GRACE_SECONDS = 0
    # Given a session rotated once (the first token is revoked as rotated, not expired)
    first = tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    second = tokens.token_refresh(refresh_token=first.refresh_token)

    # When the sweep runs
    retention.expired_credentials_prune()

    # Then presenting the rotated token is still recognised as reuse and signs the family out
    with pytest.raises(ApplicationError):
        tokens.token_refresh(refresh_token=first.refresh_token)
    with pytest.raises(ApplicationError):
        tokens.token_refresh(refresh_token=second.refresh_token)
