"""Registry of inbound event handlers, and idempotent delivery to them: the inbox row and the
handler's effect commit in one transaction, so a redelivered event has no second effect."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from django.apps import apps
from django.db import IntegrityError

from apps.core.context import bound
from apps.core.db import atomic
from apps.core.events.declarations import subscribes
from apps.core.events.envelope import Envelope

logger = logging.getLogger(__name__)

Handler = Callable[[Envelope], None]
_handlers: dict[tuple[str, str], Handler] = {}
_versions: dict[tuple[str, str], frozenset[int]] = {}


class UndeclaredEventError(LookupError):
    pass


class UnsupportedEventVersionError(LookupError):
    """An event in a version this service's handler does not read (a newer producer's): the
    delivery fails, so the message goes back to the queue and, after maxReceiveCount, to the DLQ."""


def event_handler(service: str, event_type: str, *, versions: Collection[int] = (1,)) -> Callable[[Handler], Handler]:
    """Register `service`'s handler for `event_type` in `versions`; the type must be in its SUBSCRIBES."""

    def register(function: Handler) -> Handler:
        if event_type not in subscribes(service):
            raise UndeclaredEventError(
                f"{service} handles {event_type!r} but its contract's SUBSCRIBES does not list it."
            )
        _handlers[(service, event_type)] = function
        _versions[(service, event_type)] = frozenset(versions)
        return function

    return register


def registered_handlers() -> dict[tuple[str, str], Handler]:
    return dict(_handlers)


def deliver(service: str, envelope: Envelope) -> bool:
    """Run `service`'s handler for the event once. Returns False for a duplicate delivery.

    A handler that raises rolls back its effect and the inbox row together, so the retry runs it
    again from scratch."""
    handler = _handlers.get((service, envelope.type))
    if handler is None:
        raise UndeclaredEventError(f"{service} has no handler for {envelope.type!r}.")
    versions = _versions.get((service, envelope.type), frozenset({1}))
    if envelope.version not in versions:
        raise UnsupportedEventVersionError(
            f"{service} reads {envelope.type!r} in versions {sorted(versions)}, not {envelope.version} "
            f"(event {envelope.id})."
        )
    inbox = apps.get_model(service, "InboxEvent")
    with bound(request_id=str(envelope.id), trace_id=envelope.trace_id):
        with atomic(service):
            try:
                with atomic(service):
                    inbox.objects.create(event_id=envelope.id, event_type=envelope.type, producer=envelope.producer)
            except IntegrityError:
                logger.info(
                    "duplicate %s %s ignored by %s",
                    envelope.type,
                    envelope.id,
                    service,
                    extra={"event_id": str(envelope.id), "event_type": envelope.type},
                )
                return False
            handler(envelope)
        logger.info(
            "handled %s %s in %s",
            envelope.type,
            envelope.id,
            service,
            extra={"event_id": str(envelope.id), "event_type": envelope.type},
        )
        return True
