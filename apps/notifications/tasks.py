"""Celery entry points of the notifications service (thin: they call a service), and how a
delivery gets a send after the transaction that asked for it commits: dispatch() for a staff
resend, dispatch_retry() for the retries of a first send that failed transiently."""

from __future__ import annotations

import uuid

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from apps.core.tasks import enqueue, enqueue_retry
from apps.notifications import services
from apps.notifications.channels import TransientSendError

SERVICE = "notifications"
# Retry countdowns stay under CELERY_MAX_RETRY_COUNTDOWN (half the SQS visibility timeout, 150 s
# by default): a longer wait would let SQS hand the message to another worker meanwhile.
RETRY_BACKOFF_MAX_SECONDS = 30


@shared_task(
    bind=True,
    name="apps.notifications.send_delivery",
    acks_late=True,
    autoretry_for=(TransientSendError,),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def send_delivery(self, delivery_id: str) -> None:
    """Send one recorded delivery. The last allowed attempt marks a still-failing send failed
    instead of raising, so the row never stays pending after the retries are spent."""
    services.delivery_send(
        delivery_id=uuid.UUID(delivery_id),
        final_attempt=self.request.retries >= self.max_retries,
    )


def dispatch(delivery_id: uuid.UUID) -> None:
    """Send the delivery once the transaction that recorded it commits: on the service's Celery
    queue when split, in-process (with the same retries) all-in-one."""
    enqueue(SERVICE, send_delivery, str(delivery_id))


def dispatch_retry(delivery_id: uuid.UUID) -> None:
    """The task as retry 1 of a send whose first attempt (in the event's handler) failed
    transiently, after that retry's backoff (send_delivery's own: exponential, jittered)."""
    countdown = get_exponential_backoff_interval(
        factor=1, retries=0, maximum=RETRY_BACKOFF_MAX_SECONDS, full_jitter=True
    )
    enqueue_retry(SERVICE, send_delivery, retries=1, countdown=countdown, delivery_id=str(delivery_id))
