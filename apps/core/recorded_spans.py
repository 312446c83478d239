"""Starting a span whose sampling is already settled.

The SDK's Tracer.start_span looks the parent up again, asks the sampler, wraps the attributes it
returns in a read-only view and then cleans every value into the span's bounded attributes, one
locked call each. ShopStack's two hot spans are started where the decision is already known: a
recorded request's server span (apps.core.middleware, after tracing.sample_request) and a query's
span under a sampled parent (apps.core.query_tracing, under a sampler whose children follow their
parent). For those the sampler's answer is fixed (record and sample, the attributes unchanged, the
parent's trace state), so `start_settled_span` builds the SDK's span directly: the same span, with
the same ids, flags, scope, limits, processors and end-of-span metrics, less the repeated work.

Attributes whose values are already plain (text, numbers, booleans) and within the span's limits
are put in as they are; anything else goes through the span's own cleaning. A tracer that is not
the SDK's, or is disabled, starts the span the ordinary way. With the request's attributes set
directly (`request_attributes`), this took a recorded list request's tracing work from 0.885 M to
0.634 M instructions (docs/benchmarks.md). tests/tracing/test_recorded_spans.py holds these spans
equal to start_span's, and test_server_span.py and test_query_spans.py to the maintained
instrumentations'."""

from __future__ import annotations

import contextlib
import wsgiref.util
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer, _Span
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.semconv._incubating.attributes.http_attributes import (
    HTTP_FLAVOR,
    HTTP_HOST,
    HTTP_METHOD,
    HTTP_SCHEME,
    HTTP_SERVER_NAME,
    HTTP_TARGET,
    HTTP_URL,
    HTTP_USER_AGENT,
)
from opentelemetry.semconv._incubating.attributes.net_attributes import (
    NET_HOST_NAME,
    NET_HOST_PORT,
    NET_PEER_IP,
    NET_PEER_NAME,
    NET_PEER_PORT,
)
from opentelemetry.semconv._incubating.attributes.user_agent_attributes import USER_AGENT_SYNTHETIC_TYPE
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util.http import detect_synthetic_user_agent, normalize_user_agent, redact_url, sanitize_method

_PLAIN = frozenset((str, int, float, bool))
_TEXT = frozenset((str,))
_SAMPLED = TraceFlags.SAMPLED
_RANDOM = TraceFlags.RANDOM_TRACE_ID


def start_settled_span(
    tracer: trace.Tracer,
    name: str,
    *,
    context: Context,
    kind: SpanKind,
    attributes: Mapping[str, Any],
    trace_id: int | None = None,
    start_time: int | None = None,
) -> trace.Span:
    """Starts the span `tracer.start_span` would start, for a span the configured sampler records
    with its attributes unchanged and its parent's trace state: a child of the span in `context`,
    or, when `context` holds none, a new trace's root with `trace_id` (the id the request was
    sampled on). The span is not made current."""
    if type(tracer) is not Tracer or not tracer._is_enabled():
        return tracer.start_span(name, context=context, kind=kind, attributes=attributes, start_time=start_time)
    parent = trace.get_current_span(context).get_span_context()
    if parent.is_valid:
        trace_id = parent.trace_id
        flags = _SAMPLED | (parent.trace_flags & _RANDOM)
        trace_state = parent.trace_state
        parent_context: SpanContext | None = parent
    else:
        if trace_id is None:
            trace_id = tracer.id_generator.generate_trace_id()
        flags = _SAMPLED | (_RANDOM if tracer.id_generator.is_trace_id_random() else 0)
        trace_state = None
        parent_context = None
    span = _Span(
        name=name,
        context=SpanContext(
            trace_id,
            tracer.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        ),
        parent=parent_context,
        sampler=tracer.sampler,
        resource=tracer.resource,
        span_processor=tracer.span_processor,
        kind=kind,
        instrumentation_info=tracer.instrumentation_info,
        limits=tracer._span_limits,
        instrumentation_scope=tracer._instrumentation_scope,
        record_end_metrics=tracer._tracer_metrics.start_span(parent_context, Decision.RECORD_AND_SAMPLE),
    )
    put_attributes(span, attributes)
    span.start(start_time=start_time, parent_context=context)
    return span


class AttributeCollector(dict):
    """Stands in for a recording span to code that sets attributes and a status on one (the
    maintained instrumentations' helpers), collecting them, so that they reach the real span in
    one put_attributes."""

    status: tuple[Status | StatusCode, str | None] | None = None

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.update(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self[key] = value

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self.status = (status, description)


def put_attributes(span: trace.Span, attributes: Mapping[str, Any]) -> None:
    """Sets `attributes` on a recording SDK span: as they are when every key is new and text, and
    every value plain and within the span's limits (what the span's cleaning and ordering would
    make of them anyway), else through the span's own set_attributes."""
    bounded = getattr(span, "_attributes", None)
    limits = getattr(span, "_limits", None)
    if (
        bounded is not None
        and limits is not None
        and limits.max_span_attribute_length is None
        and not bounded._immutable
        and bounded._dict.keys().isdisjoint(attributes)
        and (limits.max_span_attributes is None or len(bounded) + len(attributes) <= limits.max_span_attributes)
        and "" not in attributes
        and _TEXT.issuperset(map(type, attributes))
        and _PLAIN.issuperset(map(type, attributes.values()))
    ):
        bounded._dict.update(attributes)
    else:
        span.set_attributes(attributes)


def request_attributes(environ: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes the WSGI instrumentation's collect_request_attributes gives a request with
    this environ under the default HTTP semantic conventions (the older names, which it reports
    unless OTEL_SEMCONV_STABILITY_OPT_IN says otherwise), in its order. It reaches them through two
    dozen one-line calls that each ask which conventions to report; here they are set directly, and
    the instrumentation's own helpers still sanitize the method, redact a URL and read the user
    agent. tests/tracing/test_recorded_spans.py holds the two equal over many environs."""
    result: dict[str, Any] = {}
    method = sanitize_method(environ.get("REQUEST_METHOD", "")).strip()
    if method:
        result[HTTP_METHOD] = method
    result[HTTP_SERVER_NAME] = environ.get("SERVER_NAME")
    scheme = environ.get("wsgi.url_scheme")
    if scheme:
        result[HTTP_SCHEME] = scheme
    host = environ.get("HTTP_HOST")
    if host:
        result[NET_HOST_NAME] = host
        result[HTTP_HOST] = host
    server_port = environ.get("SERVER_PORT")
    if server_port:
        result[NET_HOST_PORT] = int(server_port)  # the server's own setting: a number
    target = environ.get("RAW_URI")
    if target is None:
        target = environ.get("REQUEST_URI")
    if target:
        result[HTTP_TARGET] = target
    else:
        result[HTTP_URL] = redact_url(wsgiref.util.request_uri(environ))
    remote_address = environ.get("REMOTE_ADDR")
    if remote_address:
        result[NET_PEER_IP] = remote_address
    _put_int(result, NET_PEER_PORT, environ.get("REMOTE_PORT"))
    remote_host = environ.get("REMOTE_HOST")
    if remote_host and remote_host != remote_address:
        result[NET_PEER_NAME] = remote_host
    user_agent = environ.get("HTTP_USER_AGENT")
    if user_agent:
        user_agent = normalize_user_agent(user_agent)
        if user_agent:
            result[HTTP_USER_AGENT] = user_agent
            synthetic = detect_synthetic_user_agent(user_agent)
            if synthetic:
                result[USER_AGENT_SYNTHETIC_TYPE] = synthetic
    flavor = environ.get("SERVER_PROTOCOL", "")
    if flavor.upper().startswith("HTTP/"):
        flavor = flavor[len("HTTP/") :]
    if flavor:
        result[HTTP_FLAVOR] = flavor
    return result


def _put_int(result: dict[str, Any], key: str, value: Any) -> None:
    if value:
        with contextlib.suppress(ValueError, TypeError):
            result[key] = int(value)
