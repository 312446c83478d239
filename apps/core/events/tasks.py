"""The Celery task every service's worker runs for an event that reached its queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver
from apps.core.events.sns import HANDLE_EVENT_TASK
from apps.core.worker import delivery_trace, sqs_receive_count

logger = logging.getLogger(__name__)


# A failure leaves the message in its queue (acks_late, no ack on failure): SQS redelivers it
# after the backoff the queue's policy sets, and after maxReceiveCount moves it to the DLQ. The
# run's span (Celery's instrumentation, a child of the span that published the event) says which
# receive this is and, on failure, whether SQS retries it or dead-letters it.
@shared_task(name=HANDLE_EVENT_TASK, acks_late=True, acks_on_failure_or_timeout=False, bind=True)
def handle_event(self: Task, *, envelope: dict[str, Any]) -> None:
    receive_count = sqs_receive_count((self.request.properties or {}).get("delivery_info") or {})
    with delivery_trace(service=settings.SERVICE, receive_count=receive_count):
        deliver(settings.SERVICE, Envelope.from_dict(envelope))
