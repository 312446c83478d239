"""The Celery worker's consumer: a message this worker cannot run (a task from a newer release, a
body it cannot read) goes back to its SQS queue, never deleted, so SQS moves it to the dead-letter
queue after maxReceiveCount receives, where an alarm sees it and it can be redriven.

Every such return, and every failed event delivery, is a span that says whether SQS will deliver
the message again or dead-letter it (shopstack.dead_lettered), in the trace the message came from;
a dead-lettered one also counts in the DeadLettered metric."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from celery import signals
from celery.worker.consumer import Consumer as CeleryConsumer
from django.conf import settings
from kombu.message import Message
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from apps.core.metrics import metric_emit
from apps.core.tracing import SERVICE_ATTRIBUTE, tracer

logger = logging.getLogger(__name__)


def redelivery_delay(*, receive_count: int) -> int:
    """Seconds a message waits before its next receive: the queue's retry backoff by receive count
    (the last step once past it), so a newer worker has time to take it during a release."""
    backoff = settings.EVENTS_RETRY_BACKOFF
    return backoff.get(receive_count, backoff[max(backoff)])


def sqs_receive_count(delivery_info: Mapping[str, Any]) -> int | None:
    """How many times SQS has delivered this message (1 the first time), from its delivery info
    as kombu's SQS transport fills it; None off SQS."""
    sqs_message = delivery_info.get("sqs_message")
    if not sqs_message:
        return None
    return int(sqs_message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def _mark_delivery(span: Span, *, service: str, receive_count: int | None, failed: bool) -> None:
    """What happens next to this message: a retry after the backoff, or the DLQ."""
    span.set_attribute(SERVICE_ATTRIBUTE, service)
    if receive_count is None:
        return
    span.set_attribute("messaging.sqs.receive_count", receive_count)
    span.set_attribute("shopstack.redelivered", receive_count > 1)
    if not failed:
        return
    final = receive_count >= settings.EVENTS_MAX_RECEIVES
    span.set_attribute("shopstack.dead_lettered", final)
    if final:
        span.add_event("dead-lettered", {"reason": f"receive {receive_count} of {settings.EVENTS_MAX_RECEIVES} failed"})
        metric_emit(
            name="DeadLettered",
            value=1,
            unit="Count",
            dimensions={"Service": settings.AWS_RESOURCE_PREFIX + service},
        )
    else:
        span.set_attribute("shopstack.retry_in_seconds", redelivery_delay(receive_count=receive_count))


@contextmanager
def delivery_trace(*, service: str, receive_count: int | None) -> Iterator[None]:
    """Mark the current span (the task's run) with the receive count and, if the body raises,
    whether SQS retries the message or dead-letters it."""
    span = trace.get_current_span()
    try:
        yield
    except Exception:
        _mark_delivery(span, service=service, receive_count=receive_count, failed=True)
        raise
    _mark_delivery(span, service=service, receive_count=receive_count, failed=False)


def _release_traced(message: Message, *, what: str, error: BaseException | None) -> None:
    """message_release in a span of the trace the message carried (its W3C traceparent header)."""
    headers = message.headers or {}
    with tracer().start_as_current_span(
        f"release {what}",
        context=extract(headers),
        kind=SpanKind.CONSUMER,
        attributes={"messaging.message.id": str(headers.get("id", "")), "shopstack.task": str(headers.get("task", ""))},
    ) as span:
        span.set_status(Status(StatusCode.ERROR, str(error) if error else f"{what}: returned to the queue"))
        _mark_delivery(
            span,
            service=settings.SERVICE or "all-in-one",
            receive_count=sqs_receive_count(message.delivery_info or {}),
            failed=True,
        )
        message_release(message)


def message_release(message: Message) -> None:
    """Hand `message` back to SQS without deleting it; SQS delivers it again after the delay.

    Celery's own handling rejects it, and whether kombu's SQS transport then deletes it depends on
    its version and on reading the queue's redrive policy; here nothing is deleted, whatever the
    transport does on reject."""
    info = message.delivery_info
    receive_count = sqs_receive_count(info)
    if receive_count is None:  # not SQS (the in-memory broker of tests): nothing to come back to
        message.reject_log_error(logger, ())
        return
    channel = message.channel
    try:
        channel.sqs(queue=channel.canonical_queue_name(info["routing_key"])).change_message_visibility(
            QueueUrl=info["sqs_queue"],
            ReceiptHandle=message.delivery_tag,
            VisibilityTimeout=redelivery_delay(receive_count=receive_count),
        )
    except Exception:
        # Still not deleted: SQS delivers it again once the queue's visibility timeout ends.
        logger.exception("could not shorten the visibility of message %s; it returns later", message.delivery_tag)
    finally:
        # Forget the delivery in this process only (frees its prefetch slot). The transport's
        # basic_ack/basic_reject would delete it from SQS.
        channel.qos.ack(message.delivery_tag)


class Consumer(CeleryConsumer):
    """Celery's consumer, except that a message it cannot run is released, not rejected."""

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        task_id = (message.headers or {}).get("id")
        logger.error(
            "received task %s (%s) this worker does not know (a newer release's?): returned to the queue",
            name,
            task_id,
            extra={"task_name": name, "task_id": task_id},
        )
        _release_traced(message, what="unknown task", error=exc)
        signals.task_unknown.send(sender=self, message=message, exc=exc, name=name, id=task_id)

    def on_unknown_message(self, body: Any, message: Message) -> None:
        logger.error(
            "received a message that is not a task: returned to the queue (%s)", self._message_report(body, message)
        )
        _release_traced(message, what="unknown message", error=None)
        signals.task_rejected.send(sender=self, message=message, exc=None)

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        logger.error("received an invalid task message: returned to the queue (%s)", exc)
        _release_traced(message, what="invalid task", error=exc)
        signals.task_rejected.send(sender=self, message=message, exc=exc)
