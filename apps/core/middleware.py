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
from opentelemetry import context
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.util.http import sanitize_method

from apps.core.client_address import client_address
from apps.core.context import bound, new_id, new_trace_id, span_trace_id
from apps.core.tracing import reserved_trace_id, sample_request

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
    that the nine requests in ten a 10 % sampler drops cost next to nothing and the one it keeps is
    the one it decided on:

    - the sampler decides first (apps.core.tracing.sample_request). A request it does not record
      skips the parent's work (span name from the URL resolver, request attributes, duration
      metrics) and runs in an unrecorded span of its trace, which carries the ids on; one it
      records gets its server span under the trace id the decision was made on;
    - excluded URLs (TRACING_EXCLUDED_URLS) are matched against the path, so an unrecorded request
      never builds its absolute URL; a recorded one builds it once, where the parent builds it in
      each of its four hooks;
    - a recorded span is named by the route Django resolved for the view (`GET api/v1/...`), not
      by resolving the path a second time before it; a request answered before any view keeps
      the method as its name, as the parent names one that resolves to nothing;
    - a request whose Host is not allowed is not traced: the parent reads the request's absolute
      URL first thing, which raises DisallowedHost, and a load balancer probing a task by its IP
      would get a 400 before HealthCheckMiddleware answers it. Django answers it as before;
    - nor is a request whose path is not a WSGI (latin-1) string, as some servers pass a path with
      characters beyond it: the parent's request attributes (wsgiref's request_uri) raise
      UnicodeEncodeError on it, a 500 for what is a 404."""

    def process_request(self, request: HttpRequest) -> None:
        try:
            (request.META.get("SCRIPT_NAME", "") + request.META.get("PATH_INFO", "")).encode("latin-1")
        except UnicodeEncodeError:
            return
        if self._excluded_urls.url_disabled(request.path):
            return
        sampling = sample_request(request.META)
        if sampling is None:
            return
        if not sampling.recorded:
            request.META[_UNSAMPLED] = context.attach(sampling.context)
            return
        try:
            absolute = request.build_absolute_uri("?")
        except DisallowedHost:
            return
        build = request.build_absolute_uri
        # An attribute of this request only, read by the parent's hooks below.
        request.build_absolute_uri = lambda location=None: absolute if location == "?" else build(location)
        request.META[_TRACED] = True
        with reserved_trace_id(sampling.trace_id):
            super().process_request(request)

    @staticmethod
    def _get_span_name(request: HttpRequest) -> str:
        method = sanitize_method(request.method.strip())
        return "HTTP" if method == "_OTHER" else method

    def process_view(self, request: HttpRequest, view_func: Callable, *args: Any, **kwargs: Any) -> None:
        if not request.META.get(_TRACED):
            return
        super().process_view(request, view_func, *args, **kwargs)
        route = getattr(request.resolver_match, "route", None)
        span = request.META.get(self._environ_span_key)
        if route and span is not None and span.name != "HTTP":
            span.update_name(f"{span.name} {route}")

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if request.META.get(_TRACED):
            super().process_exception(request, exception)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _UNSAMPLED in request.META:
            context.detach(request.META.pop(_UNSAMPLED))
        return super().process_response(request, response) if request.META.get(_TRACED) else response


_TRACED = "shopstack.traced"
_UNSAMPLED = "shopstack.unsampled_context"
