"""A Celery task belongs to the trace that sent it, for exactly its own run: the id travels in
the message headers, and a worker thread's next task never inherits it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery import shared_task
from celery.app.task import Context

from apps.core.context import bound, trace_id_var
from apps.core.tasks import TRACE_HEADER, _bind_trace, _send_trace, _unbind_trace

seen: list[str | None] = []


@pytest.fixture(autouse=True)
def outside_any_trace():
    # Other tests' work may have left a trace on this thread (a shell-like caller keeps one).
    with bound(request_id=None, trace_id=None):
        yield


@shared_task(name="tests.core.record_trace")
def record_trace() -> None:
    seen.append(trace_id_var.get())


def test_a_sent_task_carries_the_senders_trace():
    headers: dict = {}
    with bound(request_id="r-1", trace_id="trace-1"):
        _send_trace(headers=headers)
    assert headers[TRACE_HEADER] == "trace-1"


def test_a_task_sent_outside_any_trace_starts_one_without_pinning_it_on_the_sender():
    headers: dict = {}
    _send_trace(headers=headers)
    assert headers[TRACE_HEADER]
    assert trace_id_var.get() is None


def test_a_worker_binds_the_messages_trace_for_the_run_only():
    task = SimpleNamespace(request=Context({TRACE_HEADER: "trace-2"}))
    _bind_trace(task=task, task_id="task-1")
    assert trace_id_var.get() == "trace-2"
    _unbind_trace(task=task)
    assert trace_id_var.get() is None


def test_tasks_run_one_after_another_do_not_share_a_trace():
    seen.clear()
    record_trace.apply()
    record_trace.apply()
    assert len(seen) == 2 and all(seen) and seen[0] != seen[1]
    assert trace_id_var.get() is None


def test_an_in_process_task_stays_in_its_callers_trace():
    seen.clear()
    with bound(request_id="r-3", trace_id="trace-3"):
        record_trace.apply()
        assert trace_id_var.get() == "trace-3"
    assert seen == ["trace-3"]
