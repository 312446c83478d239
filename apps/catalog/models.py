"""Models of the catalog service."""

from __future__ import annotations

from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("catalog")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass
