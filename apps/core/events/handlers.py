"""Registry of inbound event handlers, and idempotent delivery to them: the inbox row and the
handler's effect commit in one transaction, so a redelivered event has no second effect. Each
delivery is a span ("handle <type>") in the trace the event was published in; a duplicate one says
so (shopstack.duplicate), a failed one records its exception."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from opentelemetry.trace import Status, StatusCode

from apps.core.context import bound
from apps.core.db import atomic
from apps.core.events.declarations import subscribes
from apps.core.events.envelope import Envelope
from apps.core.events.statements import rows_insert
from apps.core.metrics import metric_emit
from apps.core.services import db_alias
from apps.core.tracing import SERVICE_ATTRIBUTE, tracer

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
    inbox = apps.get_model(service, "InboxEvent")
    with (
        bound(request_id=str(envelope.id), trace_id=envelope.trace_id),
        tracer().start_as_current_span(
            f"handle {envelope.type}",
            attributes={
                SERVICE_ATTRIBUTE: service,
                "messaging.operation.type": "process",
                "messaging.message.id": str(envelope.id),
                "shopstack.event.type": envelope.type,
                "shopstack.event.version": envelope.version,
                "shopstack.event.producer": envelope.producer,
            },
            # Recorded below, with the metric: the exception still propagates to the caller.
            record_exception=False,
            set_status_on_exception=False,
        ) as span,
    ):
        try:
            versions = _versions.get((service, envelope.type), frozenset({1}))
            if envelope.version not in versions:
                raise UnsupportedEventVersionError(
                    f"{service} reads {envelope.type!r} in versions {sorted(versions)}, not {envelope.version} "
                    f"(event {envelope.id})."
                )
            handled = _deliver_once(service, envelope, inbox, handler)
        except Exception as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            handler_failure_report(service=service, event_type=envelope.type)
            raise
        span.set_attribute("shopstack.duplicate", not handled)
        return handled


def _inbox_record(service: str, envelope: Envelope, inbox: type[Model]) -> bool:
    """Record the event in the inbox; False if it is there already (a duplicate delivery). One
    INSERT ... ON CONFLICT DO NOTHING rather than an INSERT in a savepoint that a duplicate rolls
    back: two round trips fewer for every delivery. A concurrent delivery of the same event waits
    on the key until the first one's transaction ends, then inserts nothing (or, if that one rolled
    back, inserts and runs the handler)."""
    row = inbox(event_id=envelope.id, event_type=envelope.type, producer=envelope.producer)
    return rows_insert(inbox, [row], alias=db_alias(service), ignore_existing=True) == 1


def _deliver_once(service: str, envelope: Envelope, inbox: type[Model], handler: Handler) -> bool:
    with atomic(service):
        if not _inbox_record(service, envelope, inbox):
            logger.info(
                "duplicate %s %s ignored by %s",
                envelope.type,
                envelope.id,
                service,
                extra={"event_id": str(envelope.id), "event_type": envelope.type},
            )
            metric_emit(
                name="DuplicateDeliveriesSkipped",
                value=1,
                unit="Count",
                dimensions={"Service": _metric_service(service)},
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


def handler_failure_report(*, service: str, event_type: str) -> None:
    """HandlerFailures, by service and by service and event type."""
    metric_emit(
        name="HandlerFailures",
        value=1,
        unit="Count",
        dimensions={"Service": _metric_service(service), "EventType": event_type},
        dimension_sets=[["Service"], ["Service", "EventType"]],
    )


def _metric_service(service: str) -> str:
    # The stack's resource prefix keeps two environments in one account apart.
    return settings.AWS_RESOURCE_PREFIX + service
