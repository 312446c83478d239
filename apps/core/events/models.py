"""Abstract outbox and inbox tables; every service has concrete ones in its own database so an
event is written, and a received event recorded, in the same transaction as the change."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.core.events.envelope import Envelope


class AbstractOutboxEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=100)
    version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    trace_id = models.CharField(max_length=128)
    # The W3C traceparent of the span that published the event (apps/core/tracing.py), so its
    # delivery joins the same trace even when the sweep sends it later; the database default lets
    # code from before the column insert rows.
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")
    occurred_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["occurred_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.id}"

    def to_envelope(self) -> Envelope:
        return Envelope(
            id=self.id,
            type=self.event_type,
            version=self.version,
            occurred_at=self.occurred_at,
            producer=self._meta.app_label,
            trace_id=self.trace_id,
            traceparent=self.traceparent,
            payload=self.payload,
        )


class AbstractInboxEvent(models.Model):
    event_id = models.UUIDField(primary_key=True)
    event_type = models.CharField(max_length=100)
    producer = models.CharField(max_length=50)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-received_at"]
        # The retention sweep deletes by age (apps/core/events/retention.py).
        indexes = [models.Index(fields=["received_at"], name="%(app_label)s_inbox_received")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


def outbox_indexes(service: str) -> list[models.Index]:
    """The relay's scan: unsent rows in order (a partial index keeps it small forever); and the
    retention sweep's: sent rows by age."""
    return [
        models.Index(
            fields=["occurred_at"],
            name=f"{service}_outbox_unsent",
            condition=models.Q(sent_at__isnull=True),
        ),
        models.Index(fields=["sent_at"], name=f"{service}_outbox_sent", condition=models.Q(sent_at__isnull=False)),
    ]
