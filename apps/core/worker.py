"""The Celery worker's consumer: a message this worker cannot run (a task from a newer release, a
body it cannot read) goes back to its SQS queue, never deleted, so SQS moves it to the dead-letter
queue after maxReceiveCount receives, where an alarm sees it and it can be redriven."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from celery.worker.consumer import Consumer as CeleryConsumer
from django.conf import settings
from kombu.message import Message

logger = logging.getLogger(__name__)


def redelivery_delay(*, receive_count: int) -> int:
    """Seconds a message waits before its next receive: the queue's retry backoff by receive count
    (the last step once past it), so a newer worker has time to take it during a release."""
    backoff = settings.EVENTS_RETRY_BACKOFF
    return backoff.get(receive_count, backoff[max(backoff)])


def message_release(message: Message) -> None:
    """Hand `message` back to SQS without deleting it; SQS delivers it again after the delay.

    Celery's own handling rejects it, and whether kombu's SQS transport then deletes it depends on
    its version and on reading the queue's redrive policy; here nothing is deleted, whatever the
    transport does on reject."""
    info = message.delivery_info
    sqs_message = info.get("sqs_message")
    if sqs_message is None:  # not SQS (the in-memory broker of tests): nothing to come back to
        message.reject_log_error(logger, ())
        return
    receive_count = int(sqs_message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
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
        message_release(message)
        signals.task_unknown.send(sender=self, message=message, exc=exc, name=name, id=task_id)

    def on_unknown_message(self, body: Any, message: Message) -> None:
        logger.error(
            "received a message that is not a task: returned to the queue (%s)", self._message_report(body, message)
        )
        message_release(message)
        signals.task_rejected.send(sender=self, message=message, exc=None)

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        logger.error("received an invalid task message: returned to the queue (%s)", exc)
        message_release(message)
        signals.task_rejected.send(sender=self, message=message, exc=exc)
