"""The split shape's transport: every event goes to one SNS topic as a Celery task message, with
raw message delivery and an `event_type` message attribute. Each subscribing service's SQS queue
has a filter policy naming the types it handles, and its Celery worker runs the message as the
ordinary task `apps.core.events.handle_event`.

The message is built with Celery's and kombu's own serialization, exactly as kombu's SQS transport
would put it on a queue, so the worker cannot tell it from a task sent directly."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

from celery import current_app
from django.conf import settings
from kombu import Connection, serialization
from kombu.utils.json import dumps

from apps.core.aws import client
from apps.core.events.envelope import Envelope

logger = logging.getLogger(__name__)

HANDLE_EVENT_TASK = "apps.core.events.handle_event"
# The routing key the message carries. One SNS message reaches several queues, so it cannot name
# each of them; every worker maps this key to its own queue (config: predefined_queues).
EVENTS_ROUTING_KEY = "events"


def celery_message_body(envelope: Envelope) -> str:
    """The SQS message body for a Celery task that handles `envelope`."""
    task = current_app.amqp.as_task_v2(
        str(envelope.id),
        HANDLE_EVENT_TASK,
        args=(),
        kwargs={"envelope": envelope.to_dict()},
        root_id=str(envelope.id),
    )
    if envelope.traceparent:
        # As Celery's instrumentation does for a task it sends: the worker's run of this message
        # becomes a child of the span that sent it (apps/core/tracing.py).
        task.headers["traceparent"] = envelope.traceparent
    content_type, content_encoding, body = serialization.dumps(task.body, serializer="json")
    channel = _framing_channel()
    message: dict[str, Any] = channel.prepare_message(
        body,
        content_type=content_type,
        content_encoding=content_encoding,
        headers=task.headers,
        properties=dict(task.properties),
    )
    message["body"], body_encoding = channel.encode_body(message["body"], channel.body_encoding)
    message["properties"].update(body_encoding=body_encoding, delivery_tag=str(envelope.id))
    message["properties"]["delivery_info"].update(exchange="", routing_key=EVENTS_ROUTING_KEY)
    return dumps(message)


_framing = threading.local()


def _framing_channel() -> Any:
    """kombu's in-memory channel, one per thread, kept: it shares the virtual-channel framing the
    SQS channel uses and opens no connection. Setting one up for each message cost more than the
    framing itself."""
    channel = getattr(_framing, "channel", None)
    if channel is None:
        _framing.connection = Connection("memory://")
        channel = _framing.channel = _framing.connection.default_channel
    return channel


@cache
def topic_arn() -> str:
    if settings.EVENTS_TOPIC_ARN:
        return settings.EVENTS_TOPIC_ARN
    # CreateTopic is idempotent and returns the ARN of an existing topic.
    return client("sns").create_topic(Name=settings.AWS_RESOURCE_PREFIX + settings.EVENTS_TOPIC_NAME)["TopicArn"]


# SNS PublishBatch takes at most 10 messages and 256 KiB in all (messages and attributes); a
# little is kept back for the request's own framing.
PUBLISH_BATCH_ENTRIES = 10
PUBLISH_BATCH_BYTES = 250 * 1024


class PublishFailed(Exception):
    """SNS refused one message of a batch (the others may have gone)."""


class SnsTransport:
    # The outbox relay hands this many events to send_many at once.
    batch_size = PUBLISH_BATCH_ENTRIES

    def send(self, envelope: Envelope) -> None:
        client("sns", fast_fail=True).publish(
            TopicArn=topic_arn(),
            Message=celery_message_body(envelope),
            MessageAttributes=message_attributes(envelope),
        )

    def send_many(self, envelopes: list[Envelope]) -> list[Exception | None]:
        """Publish with as few PublishBatch calls as SNS's limits allow (Publish for a lone
        event); each event's error, None for each one sent. A call that fails as a whole raises."""
        if len(envelopes) == 1:
            self.send(envelopes[0])
            return [None]
        entries = [
            {"Id": str(index), "Message": celery_message_body(e), "MessageAttributes": message_attributes(e)}
            for index, e in enumerate(envelopes)
        ]
        errors: list[Exception | None] = [None] * len(entries)
        sns = client("sns", fast_fail=True)
        for batch in _batches(entries):
            response = sns.publish_batch(TopicArn=topic_arn(), PublishBatchRequestEntries=batch)
            for failure in response.get("Failed", []):
                errors[int(failure["Id"])] = PublishFailed(f"{failure.get('Code')}: {failure.get('Message', '')}")
        return errors


def _entry_bytes(entry: dict[str, Any]) -> int:
    attributes = entry["MessageAttributes"]
    return len(entry["Message"].encode()) + sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"].encode()) for name, value in attributes.items()
    )


def _batches(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive runs of at most PUBLISH_BATCH_ENTRIES entries and PUBLISH_BATCH_BYTES."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_bytes(entry)
        if batch and (len(batch) == PUBLISH_BATCH_ENTRIES or size + entry_size > PUBLISH_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def message_attributes(envelope: Envelope) -> dict[str, dict[str, str]]:
    """The SNS message attributes: the type the subscriptions filter on, the producer, and the
    trace context (for anything reading the queue other than the Celery worker: it finds the same
    traceparent in the task message's headers)."""
    attributes = {
        "event_type": {"DataType": "String", "StringValue": envelope.type},
        "producer": {"DataType": "String", "StringValue": envelope.producer},
    }
    if envelope.traceparent:
        attributes["traceparent"] = {"DataType": "String", "StringValue": envelope.traceparent}
    return attributes
