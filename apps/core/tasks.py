"""Running a service's background work: as a Celery task on the service's own queue in the
split shape, in-process after commit in the all-in-one shape (no broker to install)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

from apps.core.context import log_trace_id, new_trace_id, request_id_var, trace_id_var
from apps.core.db import on_commit
from apps.core.events.outbox import outbox_oldest_unsent_age, relay_pending
from apps.core.events.retention import events_prune
from apps.core.events.tasks import handle_event  # noqa: F401  (so workers register it)
from apps.core.metrics import metric_emit

logger = logging.getLogger(__name__)


def enqueue(service: str, task: Task, *args: Any, **kwargs: Any) -> None:
    """Run `task` once the current transaction on `service`'s database commits."""
    if settings.TASKS_RUN_IN_PROCESS:
        on_commit(service, lambda: _run_in_process(task, args, kwargs))
    else:
        on_commit(service, lambda: task.apply_async(args=args, kwargs=kwargs))


def enqueue_retry(service: str, task: Task, *, retries: int, countdown: float, **kwargs: Any) -> None:
    """Like enqueue(), for work whose first `retries` attempts already ran elsewhere (an event
    handler's own try): the task starts as that retry, `countdown` seconds after the commit.
    In-process it runs at once, as an in-process retry does."""
    if settings.TASKS_RUN_IN_PROCESS:
        on_commit(service, lambda: _run_in_process(task, (), kwargs, retries=retries))
    else:
        on_commit(service, lambda: task.apply_async(kwargs=kwargs, countdown=countdown, retries=retries))


def _run_in_process(task: Task, args: tuple, kwargs: dict, *, retries: int = 0) -> None:
    # apply() runs the task here with Celery's retry semantics (autoretry_for, max_retries: an
    # eager retry runs again at once). With throw=True it would raise Retry instead of retrying.
    result = task.apply(args=args, kwargs=kwargs, retries=retries)
    if result.failed():
        logger.error("in-process task %s failed: %r", task.name, result.result)


@shared_task(name="apps.core.relay_outbox", acks_late=True, ignore_result=True)
def relay_outbox() -> int:
    """The periodic sweep: sends whatever the after-commit relay could not (broker down, crash),
    then reports how long the oldest event still unsent has waited (the outbox age alarm)."""
    sent = sum(relay_pending(service) for service in settings.ACTIVE_SERVICES)
    for service in settings.ACTIVE_SERVICES:
        outbox_age_report(service=service)
    return sent


def outbox_age_report(*, service: str) -> None:
    metric_emit(
        name="OutboxOldestUnsentAge",
        value=round(outbox_oldest_unsent_age(service), 3),
        unit="Seconds",
        # The stack's resource prefix keeps two environments in one account apart.
        dimensions={"Service": settings.AWS_RESOURCE_PREFIX + service},
    )


@shared_task(name="apps.core.prune_events", acks_late=True, ignore_result=True)
def prune_events() -> None:
    """The periodic retention sweep: sent outbox and old inbox rows of this process's services."""
    for service in settings.ACTIVE_SERVICES:
        events_prune(service=service)


# --- The trace a task belongs to ---------------------------------------------------------------------
# A task joins the trace of whatever sent it: the id travels in the message headers and is bound
# for exactly the task's run, so one thread's tasks never share (or leak) a trace. With tracing on
# the OpenTelemetry Celery instrumentation carries the W3C traceparent beside it and the run is a
# span of that trace; this header keeps the logs' trace id when tracing is off.

TRACE_HEADER = "shopstack_trace_id"


def task_trace_connect() -> None:
    """Connect the handlers below; after tracing_init(), so that they run after the Celery
    instrumentation's: the span a message is sent or run in exists by then."""
    before_task_publish.connect(_send_trace)
    task_prerun.connect(_bind_trace)
    task_postrun.connect(_unbind_trace)
    task_prerun.connect(task_connections_refresh)
    task_postrun.connect(task_connections_refresh)


def task_connections_refresh(task: Task | None = None, **_: Any) -> None:
    """Around a worker's task, what Django does around a request: close this thread's database
    connections that are broken or older than CONN_MAX_AGE, and health-check the others on their
    next use. Celery's own fixup would close them all (settings: CELERY_DB_REUSE_MAX)."""
    if task is not None and not getattr(task.request, "is_eager", False):
        close_old_connections()


def _send_trace(headers: dict | None = None, **_: Any) -> None:
    if headers is not None:
        # Not current_trace_id(): that would pin a new trace on a sender outside any (beat).
        headers.setdefault(TRACE_HEADER, log_trace_id() or new_trace_id())


def _bind_trace(task: Task | None = None, task_id: str | None = None, **_: Any) -> None:
    if task is None:
        return
    # In-process (all-in-one) runs carry no message: they stay in the caller's trace.
    trace_id = getattr(task.request, TRACE_HEADER, None) or log_trace_id() or new_trace_id()
    task.request.trace_tokens = (request_id_var.set(task_id), trace_id_var.set(trace_id))


def _unbind_trace(task: Task | None = None, **_: Any) -> None:
    tokens = getattr(task.request, "trace_tokens", None) if task is not None else None
    if tokens:
        request_token, trace_token = tokens
        request_id_var.reset(request_token)
        trace_id_var.reset(trace_token)
        task.request.trace_tokens = None
