"""Request context middleware: takes X-Request-ID from the caller (or makes one), binds it and the
trace id for logging and events, and returns both on the response.

The trace id is the OpenTelemetry server span's (its parent came in the W3C traceparent header, or
the span started a trace); X-Trace-ID from the caller counts only with tracing off."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from opentelemetry import context, metrics, trace
from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.instrumentation.propagators import get_global_response_propagator
from opentelemetry.instrumentation.utils import extract_attributes_from_object
from opentelemetry.instrumentation.wsgi import add_response_attributes
from opentelemetry.instrumentation.wsgi import collect_request_attributes as wsgi_collect_request_attributes
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from opentelemetry.trace import SpanKind
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    get_custom_headers,
    sanitize_method,
)

from apps.core.client_address import client_address
from apps.core.context import bound, new_id, new_trace_id, span_trace_id
from apps.core.recorded_spans import AttributeCollector, put_attributes, request_attributes, start_settled_span
from apps.core.tracing import RequestSampling, reserved_trace_id, sample_request

logger = logging.getLogger("shopstack.request")

REQUEST_ID_HEADER = "X-Request-ID"
TRACE_ID_HEADER = "X-Trace-ID"
# Incoming ids are echoed into logs and headers: accept only short, safe tokens.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming(request: HttpRequest, header: str) -> str | None:
    value = request.headers.get(header)
    return value if value and _SAFE_ID.match(value) else None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _incoming(request, REQUEST_ID_HEADER) or new_id()
        trace_id = span_trace_id() or _incoming(request, TRACE_ID_HEADER) or new_trace_id()
        started = time.perf_counter()
        with bound(request_id=request_id, trace_id=trace_id):
            response = self.get_response(request)
            logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "client": client_address(request),
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        response[REQUEST_ID_HEADER] = request_id
        response[TRACE_ID_HEADER] = trace_id
        return response


class TracingMiddleware(_DjangoMiddleware):
    """OpenTelemetry's Django middleware (apps/core/tracing.py puts this in its place), changed so
    that the nine requests in ten a 10 % sampler drops cost next to nothing, the one it keeps is
    the one it decided on, and keeping it costs what its span needs:

    - the sampler decides first (apps.core.tracing.sample_request). A request it does not record
      skips the instrumentation's work and runs in an unrecorded span of its trace, which carries
      the ids on;
    - a recorded request gets the instrumentation's server span (its attributes, from the
      instrumentation's own collect_request_attributes and add_response_attributes; its tracer,
      so the same instrumentation scope) under the trace id the decision was made on, started
      and ended here without the parent's repeated work: it sets every attribute twice, builds
      the absolute URL in each of its four hooks, extracts the caller's context a second time,
      resolves the URL a second time for the span's name, and filters attributes for HTTP
      metrics that record into nothing while no meter provider is set (ShopStack's metrics are
      CloudWatch EMF lines). When a meter provider, a request or response hook or the capture of
      custom headers is configured, the parent's hooks run instead, as they are
      (tests/tracing/test_server_span.py holds the two spans equal);
    - a recorded span is named by the route Django resolved for the view (`GET api/v1/...`); a
      request answered before any view keeps the method as its name, as the parent names one that
      resolves to nothing;
    - excluded URLs (TRACING_EXCLUDED_URLS) are matched against the path, so an excluded request
      never builds its absolute URL;
    - with the parent's hooks, a request whose Host is not allowed is not traced: the parent reads
      the request's absolute URL first thing, which raises DisallowedHost, and a load balancer
      probing a task by its IP would get a 400 before HealthCheckMiddleware answers it;
    - nor is a request whose path is not a WSGI (latin-1) string, as some servers pass a path with
      characters beyond it: the request attributes (wsgiref's request_uri) raise
      UnicodeEncodeError on it, a 500 for what is a 404."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self.lean = not _instrumentation_extras_configured()
        # The instrumentation's ExcludeList.url_disabled, its pattern searched without re.search's
        # cache lookup on every request.
        pattern = getattr(self._excluded_urls, "_regex", None)  # none when nothing is excluded
        self._excluded_path = pattern.search if pattern is not None else None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Not the parent's process_request/process_response pair: most requests are not
        # recorded, and for those this is all there is.
        sampling = self._sampling(request)
        if sampling is None:
            return self.get_response(request)
        if not sampling.recorded:
            token = context.attach(sampling.context)
            try:
                return self.get_response(request)
            finally:
                context.detach(token)
        if not self._start_recorded(request, sampling):
            return self.get_response(request)
        return self.process_response(request, self.get_response(request))

    def _sampling(self, request: HttpRequest) -> RequestSampling | None:
        """The sampler's decision for a request that is traced (None: an excluded path, a path
        that is not latin-1, tracing off)."""
        try:
            (request.META.get("SCRIPT_NAME", "") + request.META.get("PATH_INFO", "")).encode("latin-1")
        except UnicodeEncodeError:
            return None
        if self._excluded_path is not None and self._excluded_path(request.path):
            return None
        return sample_request(request.META)

    def _start_recorded(self, request: HttpRequest, sampling: RequestSampling) -> bool:
        """Starts a recorded request's server span; False if the parent's hooks would not trace it
        (a Host that is not allowed)."""
        if self.lean:
            self._start_server_span(request, sampling)
            return True
        try:
            absolute = request.build_absolute_uri("?")
        except DisallowedHost:
            return False
        build = request.build_absolute_uri
        # An attribute of this request only, read by the parent's hooks below.
        request.build_absolute_uri = lambda location=None: absolute if location == "?" else build(location)
        request.META[_TRACED] = True
        with reserved_trace_id(sampling.trace_id):
            super().process_request(request)
        return True

    def _start_server_span(self, request: HttpRequest, sampling: RequestSampling) -> None:
        if self._sem_conv_opt_in_mode is _StabilityMode.DEFAULT:
            attributes = request_attributes(request.META)
        else:
            attributes = wsgi_collect_request_attributes(request.META, self._sem_conv_opt_in_mode)
        if self._traced_request_attrs:
            attributes = extract_attributes_from_object(request, self._traced_request_attrs, attributes)
        name = self._get_span_name(request)
        start_time = request.META.get(_INSTRUMENTOR_START_TIME)
        if sampling.settled:
            span = start_settled_span(
                self._tracer,
                name,
                context=sampling.context,
                kind=SpanKind.SERVER,
                attributes=attributes,
                trace_id=sampling.trace_id,
                start_time=start_time,
            )
        else:
            with reserved_trace_id(sampling.trace_id):
                span = self._tracer.start_span(
                    name, context=sampling.context, kind=SpanKind.SERVER, attributes=attributes, start_time=start_time
                )
        request.META[_SERVER_SPAN] = span
        request.META[_SERVER_SPAN_TOKEN] = context.attach(trace.set_span_in_context(span, sampling.context))

    @staticmethod
    def _get_span_name(request: HttpRequest) -> str:
        method = sanitize_method(request.method.strip())
        return "HTTP" if method == "_OTHER" else method

    def process_view(self, request: HttpRequest, view_func: Callable, *args: Any, **kwargs: Any) -> None:
        span = request.META.get(_SERVER_SPAN)
        if span is None:
            if not request.META.get(_TRACED):
                return
            super().process_view(request, view_func, *args, **kwargs)
            span = request.META.get(self._environ_span_key)
        route = getattr(request.resolver_match, "route", None)
        if not route or span is None:
            return
        if _SERVER_SPAN in request.META:
            put_attributes(span, {HTTP_ROUTE: route})
        if span.name != "HTTP":
            span.update_name(f"{span.name} {route}")

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if _SERVER_SPAN in request.META:
            request.META[_SERVER_SPAN_EXCEPTION] = exception
        elif request.META.get(_TRACED):
            super().process_exception(request, exception)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _SERVER_SPAN in request.META:
            self._end_server_span(request, response)
            return response
        return super().process_response(request, response) if request.META.get(_TRACED) else response

    def _end_server_span(self, request: HttpRequest, response: HttpResponse) -> None:
        span = request.META.pop(_SERVER_SPAN)
        collected = AttributeCollector()
        add_response_attributes(
            collected,
            f"{response.status_code} {response.reason_phrase}",
            [],
            sem_conv_opt_in_mode=self._sem_conv_opt_in_mode,
        )
        put_attributes(span, collected)
        if collected.status is not None:
            span.set_status(*collected.status)
        propagator = get_global_response_propagator()
        if propagator:
            propagator.inject(response)
        exception = request.META.pop(_SERVER_SPAN_EXCEPTION, None)
        if exception is not None:
            # As the parent's use_span records an exception that escaped the view.
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))
        context.detach(request.META.pop(_SERVER_SPAN_TOKEN))
        span.end()


def _instrumentation_extras_configured() -> bool:
    """Whether anything the lean server span leaves out is configured: a meter provider for the
    instrumentation's HTTP metrics, its request or response hook, custom headers to capture."""
    return (
        isinstance(metrics.get_meter_provider(), MeterProvider)
        or _DjangoMiddleware._otel_request_hook is not None
        or _DjangoMiddleware._otel_response_hook is not None
        or bool(get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST))
        or bool(get_custom_headers(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE))
    )


_TRACED = "shopstack.traced"
_SERVER_SPAN = "shopstack.server_span"
_SERVER_SPAN_TOKEN = "shopstack.server_span_token"
_SERVER_SPAN_EXCEPTION = "shopstack.server_span_exception"
# Where the instrumentation's ASGI/WSGI wrappers leave a request's start, as the parent reads it.
_INSTRUMENTOR_START_TIME = "opentelemetry-instrumentor-django.starttime_key"
