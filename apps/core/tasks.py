"""Running a service's background work: as a Celery task on the service's own queue in the
split shape, in-process after commit in the all-in-one shape (no broker to install)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from apps.core.db import on_commit
from apps.core.events.outbox import relay_pending
from apps.core.events.tasks import handle_event  # noqa: F401  (so workers register it)

logger = logging.getLogger(__name__)


def enqueue(service: str, task: Task, *args: Any, **kwargs: Any) -> None:
    """Run `task` once the current transaction on `service`'s database commits."""
    if settings.TASKS_RUN_IN_PROCESS:
        on_commit(service, lambda: _run_in_process(task, args, kwargs))
    else:
        on_commit(service, lambda: task.apply_async(args=args, kwargs=kwargs))


def _run_in_process(task: Task, args: tuple, kwargs: dict) -> None:
    # apply() runs the task here with Celery's retry semantics (autoretry_for, max_retries: an
    # eager retry runs again at once). With throw=True it would raise Retry instead of retrying.
    result = task.apply(args=args, kwargs=kwargs)
    if result.failed():
        logger.error("in-process task %s failed: %r", task.name, result.result)


@shared_task(name="apps.core.relay_outbox", acks_late=True, ignore_result=True)
def relay_outbox() -> int:
    """The periodic sweep: sends whatever the after-commit relay could not (broker down, crash)."""
    return sum(relay_pending(service) for service in settings.ACTIVE_SERVICES)
