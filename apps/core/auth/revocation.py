"""Access-token revocation in every service: users publishes `user.tokens_revoked` (a subject and
a not-before time) when an account is deactivated, its password changed or reset, or its shopper
signs out everywhere; each service keeps the latest time per subject in its own table and refuses
that subject's access tokens issued before it. A short cache spares a query per request."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import models

from apps.core.db import on_commit
from apps.core.events.declarations import subscribes
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import event_handler

logger = logging.getLogger(__name__)

TOKENS_REVOKED = "user.tokens_revoked"
MODEL_NAME = "TokenRevocation"
# Cached for subjects with no revocation too, so a shopper's every request costs no query.
_NONE = 0


class AbstractTokenRevocation(models.Model):
    """Access tokens of `subject_id` issued before `not_before` are refused by this service."""

    subject_id = models.UUIDField(primary_key=True)
    not_before = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"tokens of {self.subject_id} before {self.not_before.isoformat()}"


def _cache_key(service: str, subject_id: uuid.UUID) -> str:
    return f"auth:not-before:{service}:{subject_id}"


def _cache_set(service: str, subject_id: uuid.UUID, value: float, *, only_if_absent: bool = False) -> None:
    # A reader caches what it read only if nothing is there: a revocation cached meanwhile by
    # the worker that applied it must not be overwritten by the older read.
    write = cache.add if only_if_absent else cache.set
    try:
        write(_cache_key(service, subject_id), value, settings.AUTH_REVOCATION_CACHE_SECONDS)
    except Exception:
        # The row is committed; without the cache write the old entry expires within the TTL.
        logger.warning("could not cache the token revocation of %s in %s", subject_id, service, exc_info=True)


def tokens_revoke(*, service: str, subject_id: uuid.UUID, not_before: datetime) -> None:
    """Record (inside the caller's transaction on `service`'s database) that `subject_id`'s
    tokens issued before `not_before` are refused. Only ever moves the time forward, so events
    applied out of order or twice leave the latest one in force."""
    model = apps.get_model(service, MODEL_NAME)
    # Two events for one subject at the same instant may both find no row; the loser's insert
    # fails and its event is redelivered, then finds the row.
    row = model.objects.select_for_update().filter(subject_id=subject_id).first()
    if row is None:
        row = model.objects.create(subject_id=subject_id, not_before=not_before)
    elif row.not_before < not_before:
        row.not_before = not_before
        row.save(update_fields=["not_before", "updated_at"])
    in_force = row.not_before.timestamp()
    on_commit(service, lambda: _cache_set(service, subject_id, in_force))


def tokens_not_before(*, service: str, subject_id: uuid.UUID) -> float:
    """The time (epoch seconds) before which `subject_id`'s tokens are refused here (0: none are)."""
    key = _cache_key(service, subject_id)
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("token revocation cache unavailable; reading the table", exc_info=True)
        cached = None
    if cached is not None:
        return cached
    model = apps.get_model(service, MODEL_NAME)
    moment = model.objects.filter(subject_id=subject_id).values_list("not_before", flat=True).first()
    value = moment.timestamp() if moment else _NONE
    _cache_set(service, subject_id, value, only_if_absent=True)
    return value


def token_is_revoked(*, service: str, subject_id: uuid.UUID, issued_at: float) -> bool:
    return issued_at < tokens_not_before(service=service, subject_id=subject_id)


def _on_tokens_revoked(service: str):
    def handle(envelope: Envelope) -> None:
        tokens_revoke(
            service=service,
            subject_id=uuid.UUID(envelope.payload["customer_id"]),
            not_before=datetime.fromisoformat(envelope.payload["not_before"]),
        )

    return handle


def register_token_revocation() -> None:
    """Every active service that subscribes to the event applies it to its own table."""
    for service in settings.ACTIVE_SERVICES:
        if TOKENS_REVOKED in subscribes(service):
            event_handler(service, TOKENS_REVOKED)(_on_tokens_revoked(service))
