"""Pruning outbox and inbox rows, so event payloads (names, addresses, emails) do not pile up:
sent outbox rows after OUTBOX_RETENTION_DAYS, inbox rows after INBOX_RETENTION_DAYS.

The inbox row is what makes a redelivery harmless, so it must outlive every way an event can
arrive again: a message redriven from a dead-letter queue (kept DLQ_RETENTION_SECONDS, 14 days,
from when it was first sent) or an outbox row replayed by `manage.py replay_events` (kept
OUTBOX_RETENTION_DAYS). The system check core.E003 holds that."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.db import atomic

logger = logging.getLogger(__name__)

PRUNE_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int


def _delete_in_batches(service: str, queryset: QuerySet, *, batch_size: int) -> int:
    """Short transactions, one batch each, so pruning never holds many row locks for long."""
    deleted = 0
    while True:
        with atomic(service):
            keys = list(queryset.values_list("pk", flat=True)[:batch_size])
            if keys:
                deleted += queryset.model.objects.filter(pk__in=keys).delete()[0]
        if len(keys) < batch_size:
            return deleted


def events_prune(*, service: str, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> Pruned:
    now = now or timezone.now()
    outbox = apps.get_model(service, "OutboxEvent").objects.filter(
        sent_at__lt=now - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    )
    inbox = apps.get_model(service, "InboxEvent").objects.filter(
        received_at__lt=now - timedelta(days=settings.INBOX_RETENTION_DAYS)
    )
    pruned = Pruned(
        outbox=_delete_in_batches(service, outbox, batch_size=batch_size),
        inbox=_delete_in_batches(service, inbox, batch_size=batch_size),
    )
    if pruned.outbox or pruned.inbox:
        logger.info("pruned %s sent outbox and %s inbox rows of %s", pruned.outbox, pruned.inbox, service)
    return pruned
