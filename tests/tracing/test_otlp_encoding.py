"""ShopStack's OTLP encoder (apps.core.otlp) writes what the SDK's encoder writes: the same
ExportTraceServiceRequest, message for message, for every field a span can carry, and its exporter
posts it to the collector as the SDK's exporter does."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

from apps.core.otlp import FastOTLPSpanExporter, encode_spans


def _provider(resource: Resource, limits: SpanLimits | None = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource, span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def _every_kind_of_span() -> list:
    provider, memory = _provider(Resource.create({"service.name": "shopstack-catalog", "build": 7}, "https://schema/1"))
    django = provider.get_tracer("opentelemetry.instrumentation.django", "0.66b1", schema_url="https://schema/2")
    shopstack = provider.get_tracer("shopstack", attributes={"scope.kind": "app"})
    remote = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "a1"), ("xray", "b2")]),
    )
    server = django.start_span(
        "GET api/v1/catalog/products/",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={
            "http.method": "GET",
            "net.host.port": 8000,
            "http.status_code": 200,
            "ratio": 0.25,
            "cached": True,
            "retries": 1,
            "negative": -3,
            "big": 2**62,
            "empty": "",
            "methods": ("GET", "HEAD"),
            "flags": (True, False),
            "codes": (1, 2),
            "weights": (0.5, 1.5),
            "unicode": "Grüße, 你好",
        },
    )
    with trace.use_span(server):
        query = django.start_span("SELECT", kind=SpanKind.CLIENT, attributes={"db.statement": "SELECT 1", "cached": 1})
        query.end()
        task = shopstack.start_span(
            "handle order.created",
            kind=SpanKind.CONSUMER,
            links=[Link(remote, {"messaging.message.id": "m-1"}), Link(server.get_span_context())],
        )
        task.add_event("retry", {"attempt": 2})
        task.record_exception(ValueError("no stock"))
        task.set_status(Status(StatusCode.ERROR, "ValueError: no stock"))
        task.end()
        internal = shopstack.start_span("reserve", kind=SpanKind.INTERNAL)
        internal.set_status(Status(StatusCode.OK))
        internal.end()
        shopstack.start_span("").end()
    server.end()

    limited_provider, limited = _provider(
        Resource.create({"service.name": "shopstack-orders"}),
        SpanLimits(max_span_attributes=2, max_events=1, max_links=1),
    )
    many = limited_provider.get_tracer("shopstack").start_span(
        "crowded", kind=SpanKind.PRODUCER, attributes={"a": 1, "b": 2, "c": 3}, links=[Link(remote), Link(remote)]
    )
    many.add_event("one")
    many.add_event("two")
    many.end()
    return [*memory.get_finished_spans(), *limited.get_finished_spans()]


def test_the_request_is_the_sdk_encoder_s_message_for_message():
    spans = _every_kind_of_span()

    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))

    assert ours == sdk_encode_spans(spans)
    assert len(ours.resource_spans) == 2
    assert sum(len(scope.spans) for resource in ours.resource_spans for scope in resource.scope_spans) == 6


def test_a_repeated_attribute_keeps_its_type():
    spans = _every_kind_of_span()
    encode_spans(spans)  # the cache now holds "cached" as True and as 1

    again = ExportTraceServiceRequest.FromString(encode_spans(spans))

    values = {
        span.name: {kv.key: kv.value for kv in span.attributes}["cached"]
        for resource in again.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
        if "cached" in {kv.key for kv in span.attributes}
    }
    assert values["GET api/v1/catalog/products/"].bool_value is True
    assert values["SELECT"].WhichOneof("value") == "int_value" and values["SELECT"].int_value == 1


class _Collector(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []
    status = 200

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.bodies, _Collector.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def test_the_exporter_posts_the_encoded_request_to_the_collector(collector):
    spans = _every_kind_of_span()

    assert FastOTLPSpanExporter(endpoint=collector).export(spans) is SpanExportResult.SUCCESS

    (body,) = _Collector.bodies
    assert ExportTraceServiceRequest.FromString(body) == sdk_encode_spans(spans)


def test_a_refused_export_is_a_failure(collector):
    _Collector.status = 400

    assert FastOTLPSpanExporter(endpoint=collector).export(_every_kind_of_span()) is SpanExportResult.FAILURE
