"""Per-request (or per-task) context: the request id and trace id that every log line carries and
every outgoing event or HTTP call propagates.

The trace id is the OpenTelemetry trace's (apps/core/tracing.py): X-Ray's form, 32 hex digits of
which the first 8 are the start time in epoch seconds. With tracing off (TRACING_EXPORTER=none)
no span holds it, and `trace_id_var` carries one of the same form instead, so logs and events
still join up."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def new_trace_id() -> str:
    """A trace id X-Ray accepts: the epoch seconds, then 96 random bits (as AwsXRayIdGenerator)."""
    return f"{int(time.time()):08x}{os.urandom(12).hex()}"


def span_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span, when there is one (sampled or not)."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def current_trace_id() -> str:
    """The trace this work belongs to; starts one when none is set (a periodic task, a shell).

    The id bound for this request, task or event delivery comes first (with tracing on it is the
    span's; an event's handler keeps its producer's even when the event came without a trace
    context), then the current span's."""
    trace_id = log_trace_id()
    if trace_id is None:
        trace_id = new_trace_id()
        trace_id_var.set(trace_id)
    return trace_id


def log_trace_id() -> str | None:
    """The trace id a log line shows: never starts one."""
    return trace_id_var.get() or span_trace_id()


@contextmanager
def bound(*, request_id: str | None = None, trace_id: str | None = None) -> Iterator[None]:
    request_token = request_id_var.set(request_id)
    trace_token = trace_id_var.set(trace_id)
    try:
        yield
    finally:
        request_id_var.reset(request_token)
        trace_id_var.reset(trace_token)
