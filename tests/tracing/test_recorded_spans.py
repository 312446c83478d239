"""apps.core.recorded_spans: a span whose sampling is settled, started without the sampler, is the
span the SDK's start_span starts (every field but its own span id and times), and attributes the
span would clean are cleaned; a request's attributes are the WSGI instrumentation's."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.wsgi import collect_request_attributes
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from apps.core.recorded_spans import put_attributes, request_attributes, start_settled_span
from apps.core.tracing import RequestIdGenerator

_TRACE_ID, _SPAN_ID = 0x6A0E0F0E0F0E0F0E0F0E0F0E0F0E0F0E, 0x2B3C4D5E6F708192
ATTRIBUTES = {"http.method": "GET", "net.host.port": 8000, "http.flavor": "1.1", "ratio": 0.5, "cached": False}


def _tracer(limits: SpanLimits | None = None) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), id_generator=RequestIdGenerator(), span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("shopstack.test", "1.0", schema_url="https://opentelemetry.io/schemas/1.11.0"), exporter


def _shape(span) -> dict:
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.context.trace_id,
        "flags": span.context.trace_flags,
        "trace_state": span.context.trace_state,
        "remote": span.context.is_remote,
        "parent": span.parent,
        "attributes": list(span.attributes.items()),
        "dropped": span.dropped_attributes,
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "status": span.status.status_code,
        "start_time": span.start_time,
    }


def _parent(remote: bool) -> Context:
    parent = SpanContext(_TRACE_ID, _SPAN_ID, remote, TraceFlags(TraceFlags.SAMPLED), TraceState([("k", "v")]))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def _both(context: Context, attributes: dict, *, limits: SpanLimits | None = None) -> tuple[dict, dict]:
    tracer, exporter = _tracer(limits)
    trace_id = tracer.id_generator.generate_trace_id()
    start_settled_span(
        tracer, "GET", context=context, kind=SpanKind.SERVER, attributes=attributes, trace_id=trace_id, start_time=7
    ).end()
    # start_span takes a new trace's id from the generator: hand it the same one.
    tracer.id_generator.generate_trace_id = lambda: trace_id
    tracer.start_span("GET", context=context, kind=SpanKind.SERVER, attributes=attributes, start_time=7).end()
    settled, started = exporter.get_finished_spans()
    assert settled.context.span_id != started.context.span_id
    return _shape(settled), _shape(started)


@pytest.mark.parametrize("remote", [False, True], ids=["local parent", "remote parent"])
def test_a_child_is_the_span_start_span_starts(remote):
    settled, started = _both(_parent(remote), ATTRIBUTES)

    assert settled == started
    assert settled["trace_id"] == _TRACE_ID
    assert settled["trace_state"] == TraceState([("k", "v")])
    assert settled["parent"].span_id == _SPAN_ID


def test_a_new_trace_s_root_is_the_span_start_span_starts_on_the_id_given():
    settled, started = _both(Context(), ATTRIBUTES)

    assert settled == started
    assert settled["parent"] is None
    assert settled["flags"].sampled


@pytest.mark.parametrize(
    "attributes",
    [
        {"http.method": "GET", "http.server_name": None},
        {"db.statement": "SELECT 1", "tags": ["a", "b"]},
        {"": "no key", "http.method": "GET"},
    ],
    ids=["a None value", "a list value", "an empty key"],
)
def test_attributes_the_span_would_clean_are_cleaned(attributes):
    settled, started = _both(Context(), attributes)

    assert settled == started


def test_the_span_limits_still_hold():
    limits = SpanLimits(max_span_attributes=3, max_span_attribute_length=4)
    settled, started = _both(Context(), ATTRIBUTES, limits=limits)

    assert settled == started
    assert settled["attributes"] == [("http.flavor", "1.1"), ("ratio", 0.5), ("cached", False)]
    assert settled["dropped"] == 2


def test_put_attributes_sets_a_key_again_as_set_attributes_does():
    tracer, exporter = _tracer()
    one, other = tracer.start_span("one"), tracer.start_span("other")
    for span in (one, other):
        span.set_attributes({"http.route": "a", "http.method": "GET"})
    put_attributes(one, {"http.route": "b"})
    other.set_attributes({"http.route": "b"})
    one.end()
    other.end()

    first, second = exporter.get_finished_spans()
    assert (
        list(first.attributes.items())
        == list(second.attributes.items())
        == [("http.method", "GET"), ("http.route", "b")]
    )


def test_a_tracer_that_is_not_the_sdk_s_starts_the_span_its_own_way():
    span = start_settled_span(trace.NoOpTracer(), "GET", context=Context(), kind=SpanKind.SERVER, attributes=ATTRIBUTES)

    assert not span.is_recording()


GUNICORN = {
    "REQUEST_METHOD": "GET",
    "SERVER_NAME": "0.0.0.0",
    "SERVER_PORT": "8002",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.url_scheme": "http",
    "HTTP_HOST": "shop.example.com",
    "RAW_URI": "/api/v1/catalog/products/?category=shoes&ordering=price",
    "PATH_INFO": "/api/v1/catalog/products/",
    "QUERY_STRING": "category=shoes&ordering=price",
    "SCRIPT_NAME": "",
    "REMOTE_ADDR": "10.0.3.7",
    "REMOTE_PORT": "51234",
    "HTTP_USER_AGENT": "Mozilla/5.0 (shop app)",
}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"REQUEST_METHOD": "post"},
        {"REQUEST_METHOD": "BREW"},
        {"REQUEST_METHOD": ""},
        {"SERVER_NAME": None},
        {"HTTP_HOST": None},
        {"REMOTE_PORT": "not a port"},
        {"RAW_URI": None},
        {"RAW_URI": None, "REQUEST_URI": "/from/request_uri"},
        {"RAW_URI": ""},
        {"RAW_URI": None, "QUERY_STRING": "sig=secret&token=1", "SERVER_PORT": "443", "wsgi.url_scheme": "https"},
        {"RAW_URI": None, "HTTP_HOST": None, "SERVER_NAME": "user:pw@internal"},
        {"REMOTE_ADDR": "::1", "REMOTE_PORT": None},
        {"REMOTE_HOST": "client.example.com"},
        {"REMOTE_HOST": "10.0.3.7"},
        {"HTTP_USER_AGENT": b"curl/8.5 (bytes)"},
        {"HTTP_USER_AGENT": "Googlebot/2.1"},
        {"HTTP_USER_AGENT": "AlwaysOn synthetic test"},
        {"HTTP_USER_AGENT": ""},
        {"SERVER_PROTOCOL": "http/2"},
        {"SERVER_PROTOCOL": "HTTP/"},
        {"SERVER_PROTOCOL": "SPDY/3"},
        {"wsgi.url_scheme": None},
    ],
)
def test_request_attributes_are_the_wsgi_instrumentation_s(changes):
    environ = {key: value for key, value in {**GUNICORN, **changes}.items() if value is not None}

    ours = request_attributes(environ)
    theirs = collect_request_attributes(environ, _StabilityMode.DEFAULT)

    assert list(ours.items()) == list(theirs.items())
