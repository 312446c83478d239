"""Query spans (apps.core.query_tracing): a query is recorded exactly when the span around it is,
with the maintained psycopg tracer's name, attributes and error status; a query outside any trace
starts none; and QuietHousekeeping decides a child as its parent-based delegate would."""

from __future__ import annotations

import functools

import psycopg
import pytest
from django.db import connection
from opentelemetry import context, trace
from opentelemetry.instrumentation import psycopg as psycopg_instrumentation
from opentelemetry.instrumentation.psycopg import DatabaseApiIntegration, PsycopgInstrumentor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags, TraceState

from apps.core.query_tracing import QueryTracer
from apps.core.tracing import QuietHousekeeping

pytestmark = pytest.mark.django_db(databases="__all__")

_SAMPLED, _NOT_SAMPLED = TraceFlags(TraceFlags.SAMPLED), TraceFlags(TraceFlags.DEFAULT)
_TRACE_ID, _SPAN_ID = 0x5F0E0F0E0F0E0F0E0F0E0F0E0F0E0F0E, 0x1A2B3C4D5E6F7081


def _integration() -> DatabaseApiIntegration:
    integration = DatabaseApiIntegration(
        psycopg_instrumentation.__name__,
        PsycopgInstrumentor._DATABASE_SYSTEM,
        connection_attributes=PsycopgInstrumentor._CONNECTION_ATTRIBUTES,
        tracer_provider=trace.get_tracer_provider(),
    )
    connection.ensure_connection()
    integration.get_connection_attributes(connection.connection)
    return integration


def _run(tracer, sql: str) -> None:
    with connection.connection.cursor() as cursor:
        # The cursor's own execute, not the instrumented one: `tracer` is the only tracer here.
        tracer.traced_execution(cursor, functools.partial(psycopg.Cursor.execute, cursor), sql)


def _under_a_parent(flags: TraceFlags, *, remote: bool = False) -> context.Context:
    parent = SpanContext(_TRACE_ID, _SPAN_ID, remote, flags, TraceState([("k", "v")]))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def test_the_installed_tracer_is_this_one():
    assert psycopg_instrumentation.CursorTracer is QueryTracer


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1", "  /* a comment */ SELECT 2", "/* a comment */\n  select 3", "\tWITH x AS (SELECT 4) SELECT * FROM x"],
)
def test_a_recorded_query_gets_the_maintained_tracers_name_attributes_and_parent(spans, sql):
    integration = _integration()
    with trace.get_tracer("test").start_as_current_span("request") as request:
        _run(QueryTracer(integration), sql)
        _run(psycopg_instrumentation.CursorTracer.__mro__[1](integration), sql)

    lean, maintained = [span for span in spans() if span.kind is SpanKind.CLIENT]
    assert lean.name == maintained.name
    assert dict(lean.attributes) == dict(maintained.attributes)
    assert lean.attributes["db.statement"] == sql
    assert lean.parent.span_id == maintained.parent.span_id == request.get_span_context().span_id
    assert lean.status.status_code is maintained.status.status_code is StatusCode.UNSET


def test_a_failing_query_records_its_error_as_the_maintained_tracer_does(spans):
    integration = _integration()
    with trace.get_tracer("test").start_as_current_span("request"):
        for tracer in (QueryTracer(integration), psycopg_instrumentation.CursorTracer.__mro__[1](integration)):
            with pytest.raises(psycopg.errors.DivisionByZero):
                _run(tracer, "SELECT 1 / 0")
            connection.connection.rollback()

    lean, maintained = [span for span in spans() if span.kind is SpanKind.CLIENT]
    assert lean.status.status_code is maintained.status.status_code is StatusCode.ERROR
    assert lean.status.description == maintained.status.description
    assert [event.name for event in lean.events] == [event.name for event in maintained.events] == ["exception"]
    assert lean.events[0].attributes["exception.type"] == maintained.events[0].attributes["exception.type"]


def test_a_query_outside_any_request_or_task_starts_no_trace(spans):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    assert spans() == ()


@pytest.mark.parametrize("remote", [False, True])
def test_a_query_under_an_unsampled_parent_makes_no_span(spans, remote):
    token = context.attach(_under_a_parent(_NOT_SAMPLED, remote=remote))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        context.detach(token)

    assert spans() == ()


def test_a_sampler_whose_children_do_not_follow_their_parent_is_asked(spans, monkeypatch):
    sampler = trace.get_tracer_provider().sampler
    monkeypatch.setattr(sampler, "delegate", ParentBased(ALWAYS_ON, local_parent_not_sampled=ALWAYS_ON))
    token = context.attach(_under_a_parent(_NOT_SAMPLED))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        context.detach(token)

    assert [span.name for span in spans()] == ["SELECT"]


@pytest.mark.parametrize("remote", [False, True])
@pytest.mark.parametrize("flags", [_SAMPLED, _NOT_SAMPLED])
@pytest.mark.parametrize("attributes", [None, {"db.system": "postgresql"}])
def test_quiet_housekeeping_decides_a_child_as_its_parent_based_delegate(remote, flags, attributes):
    delegate = ParentBased(TraceIdRatioBased(0.1))
    parent = _under_a_parent(flags, remote=remote)

    quiet = QuietHousekeeping(delegate).should_sample(parent, _TRACE_ID, "SELECT", SpanKind.CLIENT, attributes)
    expected = delegate.should_sample(parent, _TRACE_ID, "SELECT", SpanKind.CLIENT, attributes)

    assert quiet.decision is expected.decision
    assert quiet.decision is (Decision.RECORD_AND_SAMPLE if flags.sampled else Decision.DROP)
    assert dict(quiet.attributes) == dict(expected.attributes)
    assert quiet.trace_state == expected.trace_state
