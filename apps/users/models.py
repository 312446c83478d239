"""Models of the users service."""

from __future__ import annotations

from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("users")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass
