"""The Celery task every service's worker runs for an event that reached its queue."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from apps.core.events.envelope import Envelope
from apps.core.events.handlers import deliver
from apps.core.events.sns import HANDLE_EVENT_TASK

logger = logging.getLogger(__name__)


# A failure leaves the message in its queue (acks_late, no ack on failure): SQS redelivers it
# after the backoff the queue's policy sets, and after maxReceiveCount moves it to the DLQ.
@shared_task(name=HANDLE_EVENT_TASK, acks_late=True, acks_on_failure_or_timeout=False)
def handle_event(*, envelope: dict[str, Any]) -> None:
    deliver(settings.SERVICE, Envelope.from_dict(envelope))
