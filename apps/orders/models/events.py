"""The orders service's event tables (outbox, inbox) and its copy of revoked tokens."""

from __future__ import annotations

from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("orders")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass
