"""Celery entry points of the payments service: charging and refunding at the provider, with
bounded retries on transient provider errors. Thin: the work is in services/charges.py,
services/refunds.py and services/captures.py.

A retry re-sends the task with a countdown (exponential backoff with jitter, capped below
CELERY_MAX_RETRY_COUNTDOWN so SQS does not redeliver the message while it waits). In the
all-in-one shape tasks run in-process and retry at once, without the countdown.
After PAYMENTS_PROVIDER_MAX_RETRIES retries the payment (or refund) fails with provider_error."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from apps.payments.services import captures, charges, common, reconciliation, refunds


def _retry_countdown(retries: int) -> int:
    maximum = min(settings.PAYMENTS_RETRY_BACKOFF_MAX_SECONDS, settings.CELERY_MAX_RETRY_COUNTDOWN - 1)
    return get_exponential_backoff_interval(
        factor=settings.PAYMENTS_RETRY_BACKOFF_SECONDS, retries=retries, maximum=maximum, full_jitter=True
    )


class SecretArgumentsTask(Task):
    """Keeps the payment method token out of Celery's logs: a failed task logs its kwargs
    (kwargsrepr), and the JSON log handler would write them out."""

    def apply_async(self, args=None, kwargs=None, **options):
        if kwargs and "payment_method_token" in kwargs:
            options.setdefault("kwargsrepr", repr({**kwargs, "payment_method_token": "<redacted>"}))
        return super().apply_async(args, kwargs, **options)


def _run_with_retries(task: Task, attempt: Callable[[], common.Outcome], give_up: Callable[[], None]) -> None:
    retries = task.request.retries
    while attempt() is common.Outcome.RETRY:
        if retries >= settings.PAYMENTS_PROVIDER_MAX_RETRIES:
            give_up()
            return
        if not task.request.is_eager:
            raise task.retry(countdown=_retry_countdown(retries))
        # In-process (all-in-one) there is no broker to hold a delayed retry: retry here at once.
        retries += 1


# max_retries=None: the bound is ours (above), so the last attempt can record the failure.
@shared_task(
    base=SecretArgumentsTask,
    bind=True,
    name="apps.payments.charge_payment",
    acks_late=True,
    ignore_result=True,
    max_retries=None,
)
def charge_payment(self: Task, *, intent_id: str, payment_method_token: str) -> None:
    intent = uuid.UUID(intent_id)
    _run_with_retries(
        self,
        lambda: charges.payment_charge(intent_id=intent, payment_method_token=payment_method_token),
        lambda: charges.payment_charge_give_up(intent_id=intent),
    )


@shared_task(bind=True, name="apps.payments.refund_payment", acks_late=True, ignore_result=True, max_retries=None)
def refund_payment(self: Task, *, refund_pk: str) -> None:
    refund = uuid.UUID(refund_pk)
    _run_with_retries(
        self,
        lambda: refunds.refund_execute(refund_pk=refund),
        lambda: refunds.refund_give_up(refund_pk=refund),
    )


@shared_task(bind=True, name="apps.payments.capture_payment", acks_late=True, ignore_result=True, max_retries=None)
def capture_payment(self: Task, *, request_pk: str) -> None:
    """A capture or release of an authorization (services/captures.py)."""
    request = uuid.UUID(request_pk)
    _run_with_retries(
        self,
        lambda: captures.capture_execute(request_pk=request),
        lambda: captures.capture_give_up(request_pk=request),
    )


@shared_task(name="payments.reconcile_provider", acks_late=True, ignore_result=True)
def reconcile_provider() -> dict[str, int]:
    """The periodic reconciliation with the provider (services/reconciliation.py)."""
    return dict(reconciliation.provider_reconcile())
