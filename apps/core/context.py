"""Per-request (or per-task) context: the request id and trace id that every log line carries and
every outgoing event or HTTP call propagates."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def current_trace_id() -> str:
    """The trace this work belongs to; starts one when none is set (a periodic task, a shell)."""
    trace_id = trace_id_var.get()
    if trace_id is None:
        trace_id = new_id()
        trace_id_var.set(trace_id)
    return trace_id


@contextmanager
def bound(*, request_id: str | None = None, trace_id: str | None = None) -> Iterator[None]:
    request_token = request_id_var.set(request_id)
    trace_token = trace_id_var.set(trace_id)
    try:
        yield
    finally:
        request_id_var.reset(request_token)
        trace_id_var.reset(trace_token)
