"""The transactional outbox: publish() writes the event in the caller's transaction; the relay
sends unsent rows right after commit and again from the periodic sweep, so nothing is lost when
the transport is down at commit time.

Each row keeps the trace context it was published in; the relay sends it in a "publish" span that
is a child of that context, whenever and by whichever process it is sent, so its handlers join the
trace of the change that caused it."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from django.apps import apps
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import F, Model
from django.utils import timezone
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from apps.core.context import current_trace_id
from apps.core.db import atomic, on_commit
from apps.core.events.declarations import publishes
from apps.core.events.envelope import Envelope, to_jsonable
from apps.core.events.statements import rows_claim, rows_insert, rows_mark_sent
from apps.core.events.transport import BatchTransport, Transport, get_transport
from apps.core.metrics import metric_emit
from apps.core.services import db_alias
from apps.core.tracing import SERVICE_ATTRIBUTE, carrier_from_context, event_context, instrumented_in, tracer

logger = logging.getLogger(__name__)

RELAY_BATCH_SIZE = 100


class OutboxUsageError(RuntimeError):
    pass


def publish(*, producer: str, event_type: str, payload: Any, version: int = 1) -> Envelope:
    """Record `event_type` from `producer` in its outbox, inside the caller's transaction."""
    return publish_many(producer=producer, events=[(event_type, payload)], version=version)[0]


def publish_about_customer(*, producer: str, event_type: str, payload: Any, guest_version: int) -> Envelope:
    """Publish an event whose payload may carry a `customer_id`: as version 1 while it names a
    customer, as `guest_version` when it is None (a guest order). A consumer that reads only
    version 1 still gets every customer's events and dead-letters (never misreads) a guest's."""
    guest = getattr(payload, "customer_id", "") is None
    return publish(producer=producer, event_type=event_type, payload=payload, version=guest_version if guest else 1)


def publish_many(*, producer: str, events: list[tuple[str, Any]], version: int = 1) -> list[Envelope]:
    """Record several (event type, payload) from `producer` in its outbox with one INSERT, in
    this order, inside the caller's transaction (a bulk change publishing thousands of events)."""
    if not events:
        return []
    for event_type, _ in events:
        if event_type not in publishes(producer):
            raise OutboxUsageError(
                f"{producer} publishes {event_type!r} but its contract's PUBLISHES does not list it."
            )
    if not connections[db_alias(producer)].in_atomic_block:
        raise OutboxUsageError("publish() must run inside the transaction that makes the change.")
    trace_id = current_trace_id()
    traceparent = carrier_from_context().get("traceparent", "")
    # The relay sends by occurred_at: a microsecond apart, so the batch keeps its order.
    now = timezone.now()
    envelopes = [
        Envelope(
            type=event_type,
            producer=producer,
            payload=to_jsonable(payload),
            trace_id=trace_id,
            traceparent=traceparent,
            version=version,
            occurred_at=now + timedelta(microseconds=index),
        )
        for index, (event_type, payload) in enumerate(events)
    ]
    outbox = apps.get_model(producer, "OutboxEvent")
    rows_insert(
        outbox,
        [
            outbox(
                id=envelope.id,
                event_type=envelope.type,
                version=envelope.version,
                payload=envelope.payload,
                trace_id=envelope.trace_id,
                traceparent=envelope.traceparent,
                occurred_at=envelope.occurred_at,
            )
            for envelope in envelopes
        ],
        alias=db_alias(producer),
    )
    _relay_once_after_commit(producer)
    return envelopes


class _RelayPass:
    """The after-commit relay of one producer's transaction: one pass sends all its events, on
    this process's relay thread when settings.EVENTS_RELAY_IN_BACKGROUND (the split shape), so the
    request or task that committed does not wait for the broker; else here and now."""

    def __init__(self, producer: str) -> None:
        self.producer = producer

    def __call__(self) -> None:
        if settings.EVENTS_RELAY_IN_BACKGROUND:
            background_relay.request(self.producer)
        else:
            relay_after_commit(self.producer)


class BackgroundRelay:
    """One thread per process that runs the after-commit relay passes. Commits that arrive while
    it sends are served by its next pass, together: under load, one outbox query and one
    PublishBatch carry many transactions' events instead of one pass each.

    Nothing is lost if the process ends first: the events are committed in the outbox, and the
    sweep sends them. At a normal exit the thread is given a few seconds to finish its passes, so a
    one-off command's events go out at once (atexit). The thread keeps one database connection per
    producer, replaced like a request's (CONN_MAX_AGE, health checks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: dict[str, None] = {}  # producers, in the order they asked
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def request(self, producer: str) -> None:
        with self._lock:
            self._pending[producer] = None
            if self._pid != os.getpid():
                # First use in this process (a forked child inherits no thread).
                self._pid, self._thread = os.getpid(), None
                atexit.register(self.stop, timeout=5)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._busy = False
                    self._wake.notify_all()
                    self._wake.wait()
                if self._stopping and not self._pending:
                    self._thread = None
                    self._wake.notify_all()
                    break
                producers, self._pending, self._busy = list(self._pending), {}, True
            # As around a request: a connection broken or past CONN_MAX_AGE is replaced.
            close_old_connections()
            for producer in producers:
                relay_after_commit(producer)
        connections.close_all()

    def stop(self, timeout: float) -> bool:
        """Finish the passes asked for, close the thread's database connections and end it (a
        later request starts it again); False if that took longer than `timeout` seconds."""
        with self._lock:
            thread = self._thread if self._pid == os.getpid() else None
            if thread is None:
                return True
            self._stopping = True
            self._wake.notify_all()
        thread.join(timeout)
        with self._lock:
            self._stopping = False
        return not thread.is_alive()

    def drain(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until every pass asked for has run; False if not."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                return not self._pending
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True


background_relay = BackgroundRelay()


def _relay_once_after_commit(producer: str) -> None:
    # One pass per transaction, not one per event: a bulk change publishing thousands of events
    # would otherwise run thousands of relay passes after commit, each re-reading the outbox.
    # A savepoint rolled back drops the callback with it, so the next publish registers it again.
    connection = connections[db_alias(producer)]
    pending = (callback for _, callback, _ in connection.run_on_commit)
    if not any(isinstance(callback, _RelayPass) and callback.producer == producer for callback in pending):
        on_commit(producer, _RelayPass(producer))


def relay_after_commit(producer: str) -> None:
    try:
        relay_pending(producer)
    except Exception:
        # The change is committed and its event is safe in the outbox; the sweep sends it later.
        logger.exception("outbox relay for %s failed after commit; the sweep will retry", producer)


def relay_pending(producer: str, *, batch_size: int = RELAY_BATCH_SIZE) -> int:
    """Send unsent outbox rows in order; returns how many were sent. Several relays may run at
    once: rows are claimed with FOR UPDATE SKIP LOCKED while they are sent.

    A transport that runs the subscribers' handlers in this process (all-in-one) sends outside
    the producer's transaction instead: the handlers write other services' databases, and a relay
    holding its producer's write lock while it waits for theirs would deadlock with the relay of
    a service it delivers to (SQLite locks a whole database file for the length of a write)."""
    outbox = apps.get_model(producer, "OutboxEvent")
    transport = get_transport()
    if getattr(transport, "runs_handlers", False):
        return _relay_unclaimed(outbox, transport, batch_size=batch_size)
    sent = 0
    alias = db_alias(producer)
    while True:
        with atomic(producer):
            # Claimed and marked sent in one statement; the mark commits only with the outcome.
            rows = rows_claim(outbox, alias=alias, batch_size=batch_size, when=timezone.now())
            if not rows:
                return sent
            done = _sent_record(outbox, rows, _send_in_order(rows, transport), claimed=True)
            sent += done
            if done < len(rows):
                return sent  # keep order: stop here, the sweep resumes from this row
        if len(rows) < batch_size:
            return sent


def outbox_oldest_unsent_age(producer: str) -> float:
    """Seconds the oldest unsent event of `producer` has waited; 0 when none waits."""
    oldest = (
        apps.get_model(producer, "OutboxEvent")
        .objects.filter(sent_at__isnull=True)
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0


def _relay_unclaimed(outbox: type[Model], transport: Transport, *, batch_size: int) -> int:
    """Rows are read without a lock, so two relays may both send one: the consumer's inbox
    turns the second delivery into a no-op, and each consumer still sees the events in order
    (a delivery waits for the other's commit, then finds the event handled)."""
    sent = 0
    while True:
        rows = list(outbox.objects.filter(sent_at__isnull=True).order_by("occurred_at")[:batch_size])
        if not rows:
            return sent
        # Row by row: the handlers this send runs may relay again, and must find it marked sent.
        for row in rows:
            if _sent_record(outbox, [row], _send_in_order([row], transport), claimed=False) == 0:
                return sent
            sent += 1
        if len(rows) < batch_size:
            return sent


def _send_in_order(rows: list[Model], transport: Transport) -> list[Exception | None]:
    """Send rows in order until one fails: each sent row's outcome (its error, or None), up to the
    batch that failed. A transport that sends several at once (SNS PublishBatch) gets them
    `batch_size` at a time."""
    outcomes: list[Exception | None] = []
    batch_size = getattr(transport, "batch_size", 1)
    for start in range(0, len(rows), batch_size):
        envelopes = [row.to_envelope() for row in rows[start : start + batch_size]]
        try:
            if batch_size > 1:
                errors = send_batch_traced(envelopes, cast(BatchTransport, transport))
            else:
                send_traced(envelopes[0], transport)
                errors = [None]
        except Exception as error:
            errors = [error] * len(envelopes)
        outcomes.extend(errors)
        if any(error is not None for error in errors):
            break
    return outcomes


def _sent_record(outbox: type[Model], rows: list[Model], outcomes: list[Exception | None], *, claimed: bool) -> int:
    """Record what `_send_in_order` did with `rows`; returns how many were sent. Rows `claimed`
    were marked sent by their claim: a failed one is unmarked with its error (the attempt counted),
    one not tried is unmarked and its attempt taken back. Others are marked sent now, with one
    UPDATE for the lot (not one per row); a failure is recorded on its row."""
    alias = db_alias(outbox._meta.app_label)
    sent = [row.pk for row, error in zip(rows, outcomes, strict=False) if error is None]
    for row, error in zip(rows, outcomes, strict=False):
        if error is not None:
            _send_failed(row, error, claimed=claimed)
    untried = [row.pk for row in rows[len(outcomes) :]]
    if claimed and untried:
        outbox._default_manager.using(alias).filter(pk__in=untried).update(sent_at=None, attempts=F("attempts") - 1)
    if sent and not claimed:
        rows_mark_sent(outbox, sent, alias=alias, when=timezone.now())
    if sent:
        metric_emit(
            name="OutboxRelayed",
            value=len(sent),
            unit="Count",
            dimensions={"Service": settings.AWS_RESOURCE_PREFIX + outbox._meta.app_label},
        )
    return len(sent)


def _send_failed(row: Model, error: Exception, *, claimed: bool) -> None:
    if claimed:
        row.sent_at = None
    else:
        row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    row.save(update_fields=["sent_at", "attempts", "last_error"])
    logger.warning("outbox send of %s %s failed (attempt %s): %s", row.event_type, row.id, row.attempts, error)


@contextmanager
def _publish_span(envelope: Envelope) -> Iterator[Span]:
    """A "publish" span of the trace `envelope` was published in; its handlers' spans become its
    children (the message carries its traceparent)."""
    parent = event_context(traceparent=envelope.traceparent, trace_id=envelope.trace_id)
    with (
        instrumented_in(parent),
        tracer().start_as_current_span(
            f"publish {envelope.type}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                SERVICE_ATTRIBUTE: envelope.producer,
                "messaging.operation.type": "publish",
                "messaging.destination.name": envelope.type,
                "messaging.message.id": str(envelope.id),
                "shopstack.event.type": envelope.type,
                "shopstack.event.version": envelope.version,
            },
        ) as span,
    ):
        yield span


def _with_current_traceparent(envelope: Envelope) -> Envelope:
    traceparent = carrier_from_context().get("traceparent", "")
    return replace(envelope, traceparent=traceparent) if traceparent else envelope


def send_traced(envelope: Envelope, transport: Transport) -> None:
    """Send `envelope` in a span of the trace it was published in."""
    with _publish_span(envelope):
        transport.send(_with_current_traceparent(envelope))


def send_batch_traced(envelopes: list[Envelope], transport: BatchTransport) -> list[Exception | None]:
    """Send `envelopes` with one call of the transport's send_many, each in its own publish span
    (as send_traced); returns each one's error, None for those sent."""
    with ExitStack() as stack:
        spans, prepared = [], []
        for envelope in envelopes:
            # Each span's parent is its own event's context (explicit), never the previous span.
            spans.append(stack.enter_context(_publish_span(envelope)))
            prepared.append(_with_current_traceparent(envelope))
        errors = transport.send_many(prepared)
        for span, error in zip(spans, errors, strict=True):
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        return errors
