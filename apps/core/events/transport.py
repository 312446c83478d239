"""Transports that carry an event from the outbox to its subscribers: in-process in the
all-in-one shape, SNS (fanned out to each subscriber's SQS queue) in the split shape."""

from __future__ import annotations

import logging
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.events.declarations import subscribers
from apps.core.events.envelope import Envelope
from apps.core.services import is_active

logger = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, envelope: Envelope) -> None: ...


class BatchTransport(Transport, Protocol):
    """A transport that also sends up to `batch_size` events in one call (SNS PublishBatch)."""

    batch_size: int

    def send_many(self, envelopes: list[Envelope]) -> list[Exception | None]:
        """Each event's error, None for each one sent; raises if the call failed as a whole."""
        ...


class InProcessTransport:
    """Runs every subscribing service's handler right here, each in its own transaction.

    An exception propagates, so the outbox row stays unsent and is retried; consumers that had
    already handled it skip it then, through their inbox."""

    # The relay must not hold the producer's transaction while handlers write their databases.
    runs_handlers = True

    def send(self, envelope: Envelope) -> None:
        from apps.core.events.handlers import deliver

        for service in subscribers(envelope.type):
            if is_active(service):
                deliver(service, envelope)


@cache
def _transport(dotted_path: str) -> Transport:
    return import_string(dotted_path)()


def get_transport() -> Transport:
    return _transport(settings.EVENT_TRANSPORT)


def handlers_run_inline() -> bool:
    """True when a commit's events are handled in this process before the committing call returns
    (the in-process transport without the background relay): what a service reads back after
    its commit may already show their effects."""
    return getattr(get_transport(), "runs_handlers", False) and not settings.EVENTS_RELAY_IN_BACKGROUND
