"""The server span ShopStack's middleware starts and ends itself (apps.core.middleware.
TracingMiddleware's lean path) is the span OpenTelemetry's Django middleware makes for the same
request: name, kind, attributes, status, events, parent and instrumentation scope. An upgrade of
the instrumentation that changes its span shows here."""

from __future__ import annotations

import pytest
from django.test import Client
from django.test.utils import override_settings
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind

from apps.core import middleware
from apps.core.recorded_spans import start_settled_span

pytestmark = pytest.mark.django_db(databases="__all__")

CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_PARENT = f"00-{CALLER_TRACE_ID}-00f067aa0ba902b7-01"


def _shape(span) -> dict:
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes),
        "status": (span.status.status_code, span.status.description),
        "events": [(event.name, dict(event.attributes or {}).get("exception.type")) for event in span.events],
        "parent": (format(span.parent.trace_id, "032x"), format(span.parent.span_id, "016x")) if span.parent else None,
        "scope": span.instrumentation_scope.name,
    }


def _server_spans(spans, client: Client, method: str, path: str, **headers: str) -> list[dict]:
    before = len(spans())
    getattr(client, method)(path, headers={"User-Agent": "shop-test", **headers})
    return [_shape(span) for span in spans()[before:] if span.kind is SpanKind.SERVER]


REQUESTS = [
    ("get", "/api/v1/catalog/products/", {}),
    ("get", "/api/v1/catalog/products/?ordering=-price&page_size=2", {}),
    ("get", "/api/v1/catalog/products/no-such-product/", {}),
    ("get", "/api/v1/no-such-thing/", {}),
    ("post", "/api/v1/users/token/", {}),
    ("get", "/api/v1/catalog/products/", {"traceparent": CALLER_PARENT}),
    ("get", "/tracing-test/fail/", {}),
]


@pytest.fixture(params=["parent-based, always on", "parent-based ratio, 100 %"])
def settled_roots(request, monkeypatch) -> bool:
    """The test settings' sampler (a new trace's root is asked of it again: not settled), or a
    parent-based ratio as deployed (the decision settles the root: apps.core.recorded_spans)."""
    if request.param == "parent-based, always on":
        return False
    monkeypatch.setattr(trace.get_tracer_provider().sampler, "delegate", ParentBased(TraceIdRatioBased(1.0)))
    return True


@override_settings(ROOT_URLCONF="tests.tracing.raising_urls")
@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_the_lean_server_span_is_the_instrumentation_s_span(spans, monkeypatch, settled_roots, method, path, headers):
    settled = []
    monkeypatch.setattr(
        middleware,
        "start_settled_span",
        lambda *args, **kwargs: settled.append(1) or start_settled_span(*args, **kwargs),
    )
    lean = _server_spans(spans, Client(raise_request_exception=False), method, path, **headers)
    monkeypatch.setattr(middleware, "_instrumentation_extras_configured", lambda: True)
    instrumentation = _server_spans(spans, Client(raise_request_exception=False), method, path, **headers)

    assert len(lean) == 1
    assert lean == instrumentation
    # A caller's sampled parent settles the decision under either sampler; a new trace under the ratio.
    assert settled == ([1] if settled_roots or "traceparent" in headers else [])
    if "traceparent" in headers:
        assert lean[0]["parent"][0] == CALLER_TRACE_ID


def test_a_failing_view_s_span_records_the_error(spans):
    with override_settings(ROOT_URLCONF="tests.tracing.raising_urls"):
        (span,) = _server_spans(spans, Client(raise_request_exception=False), "get", "/tracing-test/fail/")

    assert span["attributes"]["http.status_code"] == 500
    assert span["status"][1] == "RuntimeError: the view failed"
    assert span["events"] == [("exception", "RuntimeError")]


def test_the_parent_s_hooks_run_when_a_hook_or_header_capture_is_configured(monkeypatch):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-shop-channel")

    assert middleware._instrumentation_extras_configured()
