"""A Celery task the sampler drops records nothing below it, as a dropped request does: its
queries and AWS calls make no spans, and the suppression ends with the task. What it sends for a
sampled trace (the outbox sweep, dropped as housekeeping) is still recorded whole."""

from __future__ import annotations

from dataclasses import replace

import pytest
from celery import shared_task
from django.db import connection
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import INVALID_SPAN, SpanKind

from apps.core.events.envelope import Envelope
from apps.core.events.outbox import send_traced

pytestmark = pytest.mark.django_db(databases="__all__")

_SAMPLED_TRACEPARENT = "00-5f0e0f0e0f0e0f0e0f0e0f0e0f0e0f0e-1a2b3c4d5e6f7081-01"


class _QueryingTransport:
    """Sends nothing: runs a query, as a real transport's bookkeeping would, and notes whether the
    instrumentations were on."""

    def __init__(self) -> None:
        self.instrumented: list[bool] = []

    def send(self, envelope: Envelope) -> None:
        self.instrumented.append(is_instrumentation_enabled())
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


_transport = _QueryingTransport()


@shared_task(name="tests.tracing.probe")
def probe(*, send_sampled_event: bool = False) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    if send_sampled_event:
        trace_id = _SAMPLED_TRACEPARENT.split("-")[1]
        event = Envelope(type="probe.sent", producer="orders", payload={}, trace_id=trace_id)
        send_traced(replace(event, traceparent=_SAMPLED_TRACEPARENT), _transport)
    return is_instrumentation_enabled()


@pytest.fixture
def new_traces_dropped(monkeypatch):
    monkeypatch.setattr(trace.get_tracer_provider().sampler, "delegate", ParentBased(ALWAYS_OFF))


def test_a_dropped_task_records_nothing_below_it_and_ends_clean(spans, new_traces_dropped):
    instrumented = probe.apply().get()

    assert instrumented is False
    assert spans() == ()
    assert is_instrumentation_enabled()
    assert trace.get_current_span() is INVALID_SPAN


def test_a_recorded_task_records_its_queries(spans):
    instrumented = probe.apply().get()

    assert instrumented is True
    run, query = sorted(spans(), key=lambda span: span.kind is SpanKind.CONSUMER)[::-1]
    assert run.name == "run/tests.tracing.probe"
    assert query.kind is SpanKind.CLIENT and query.parent.span_id == run.context.span_id


def test_a_dropped_task_still_records_the_sending_of_a_sampled_event(spans, new_traces_dropped):
    _transport.instrumented.clear()

    probe.apply(kwargs={"send_sampled_event": True}).get()

    assert _transport.instrumented == [True]
    publish = [span for span in spans() if span.name == "publish probe.sent"]
    assert len(publish) == 1
    assert format(publish[0].context.trace_id, "032x") == _SAMPLED_TRACEPARENT.split("-")[1]
    queries = [span for span in spans() if span.kind is SpanKind.CLIENT]
    assert [query.parent.span_id for query in queries] == [publish[0].context.span_id]
