"""OpenTelemetry tracing, set up once per process (apps.core's ready(), before any request, query
or task): the SDK with X-Ray-compatible trace ids, W3C traceparent propagation, the maintained
instrumentations (Django, psycopg, requests, botocore, Celery) and the exporter that
settings.TRACING_EXPORTER names:

- ``otlp``: OTLP over HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT (the ADOT collector beside the
  process, which sends to X-Ray); deployed services.
- ``file``: one JSON line per span under TRACING_FILE_DIR, a file per process; the local split
  stack and the all-in-one server (``manage.py trace`` prints them as a tree).
- ``console``: spans printed on stdout.
- ``memory``: kept in this process for tests (``memory_exporter()``).
- ``none``: no SDK at all; ids still travel (apps.core.context) but nothing is recorded.

Sampling is the SDK's own from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (deployed:
parentbased_traceidratio), so a trace is kept or dropped whole, across every service. Work that
belongs to no shopper action (the outbox sweep, SQS polling, a lone query outside any request or
task) starts no trace of its own: a trace per sweep every few seconds would bury the orders. A
query is traced by apps.core.query_tracing, which records it exactly when the span around it is
recorded and otherwise makes no span at all."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from celery.signals import task_postrun, task_prerun, worker_process_shutdown
from django.conf import settings
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.instrumentation.wsgi import wsgi_getter
from opentelemetry.propagate import extract, get_global_textmap, inject
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
    _get_from_env_or_default,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY
from opentelemetry.util.types import Attributes

logger = logging.getLogger(__name__)

EXPORTERS = ("otlp", "file", "console", "memory", "none")
# The Celery tasks that only keep the event tables tidy: no trace of their own (see above).
HOUSEKEEPING_TASKS = ("apps.core.relay_outbox", "apps.core.prune_events")
# Attributes ShopStack's own spans carry (the trace tree and the runbook read them).
SERVICE_ATTRIBUTE = "shopstack.service"
ORDER_ID_ATTRIBUTE = "shopstack.order_id"
ORDER_NUMBER_ATTRIBUTE = "shopstack.order_number"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_OTEL_DJANGO_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"

_lock = threading.Lock()
_initialized = False
_memory: InMemorySpanExporter | None = None


def tracer() -> trace.Tracer:
    return trace.get_tracer("shopstack")


class QuietHousekeeping(Sampler):
    """The configured sampler, except that housekeeping never starts a trace: a root span of a
    housekeeping task, of an SQS call (kombu polling and acking) or of a database query outside any
    request or task is dropped (with whatever it would have parented). Spans inside a trace are
    unaffected. A span with a parent, under a parent-based delegate whose children follow their
    parent (the defaults, as deployed), is decided here from the parent's flag, as the delegate
    would decide it, without the delegate's three further lookups of the parent."""

    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid:
            if _is_housekeeping(name, attributes or {}):
                return SamplingResult(Decision.DROP)
        elif children_follow_parent(self):
            if parent.trace_flags.sampled:
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, parent.trace_state)
            return SamplingResult(Decision.DROP, None, parent.trace_state)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"QuietHousekeeping{{{self.delegate.get_description()}}}"


# The delegate children_follow_parent last looked at, and what it found.
_followed: tuple[object, bool] = (object(), False)


def children_follow_parent(sampler: object) -> bool:
    """Whether `sampler` records a span that has a parent exactly when the parent is sampled, and
    drops a database query that has none: QuietHousekeeping around a ParentBased sampler with its
    four default children's samplers. Worked out again whenever the delegate changes."""
    global _followed
    delegate = sampler.delegate if type(sampler) is QuietHousekeeping else None
    if _followed[0] is not delegate:
        _followed = (
            delegate,
            isinstance(delegate, ParentBased)
            and delegate._remote_parent_sampled is ALWAYS_ON
            and delegate._local_parent_sampled is ALWAYS_ON
            and delegate._remote_parent_not_sampled is ALWAYS_OFF
            and delegate._local_parent_not_sampled is ALWAYS_OFF,
        )
    return _followed[1]


def _is_housekeeping(name: str, attributes: Mapping[str, Any]) -> bool:
    if name.split("/", 1)[-1] in HOUSEKEEPING_TASKS:
        return True
    if attributes.get("rpc.service") == "SQS":
        return True
    return "db.system" in attributes or "db.system.name" in attributes


class JsonLinesSpanExporter(SpanExporter):
    """One JSON object per span and line, in `<directory>/<service>-<pid>.jsonl`: a file per
    process (gunicorn and Celery workers fork), so no two writers share one."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{settings.TRACING_SERVICE_NAME}-{os.getpid()}.jsonl"
            with self._lock, (self.directory / name).open("a", encoding="utf-8") as file:
                file.write(lines)
        except OSError:
            logger.warning("could not write %s spans to %s", len(spans), self.directory, exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The fields of a span that the local trace tree reads (apps/core/management/commands/trace.py)."""
    context = span.get_span_context()
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name", ""),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [
            {"trace_id": format(link.context.trace_id, "032x"), "span_id": format(link.context.span_id, "016x")}
            for link in span.links
        ],
    }


def _exporter(name: str) -> tuple[SpanExporter, bool]:
    """The exporter `name` and whether it is batched (off the caller's thread)."""
    global _memory
    if name == "otlp":
        from apps.core.otlp import FastOTLPSpanExporter

        return FastOTLPSpanExporter(), True
    if name == "file":
        return JsonLinesSpanExporter(settings.TRACING_FILE_DIR), True
    if name == "console":
        return ConsoleSpanExporter(service_name=settings.TRACING_SERVICE_NAME), False
    _memory = InMemorySpanExporter()
    return _memory, False


def tracing_init() -> None:
    """Install the tracer provider and the instrumentations, once per process. A forked child
    (gunicorn worker, Celery prefork) inherits both; the batch processor restarts its export
    thread after a fork by itself."""
    global _initialized
    with _lock:
        if _initialized:
            return
        _initialized = True
        name = settings.TRACING_EXPORTER
        if name not in EXPORTERS:
            raise ValueError(f"TRACING_EXPORTER must be one of {', '.join(EXPORTERS)}, not {name!r}.")
        if name == "none":
            return
        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.TRACING_SERVICE_NAME, "service.namespace": "shopstack"}),
            id_generator=RequestIdGenerator(),
            sampler=QuietHousekeeping(_get_from_env_or_default()),
        )
        exporter, batched = _exporter(name)
        provider.add_span_processor(BatchSpanProcessor(exporter) if batched else SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _instrument(provider)
        # A Celery prefork child may end without running atexit: flush its last spans first.
        worker_process_shutdown.connect(_flush_on_shutdown, weak=False)


def _flush_on_shutdown(**_: Any) -> None:
    tracing_flush()


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from apps.core import query_tracing

    # Load balancer health checks every few seconds are no shopper's story.
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=settings.TRACING_EXCLUDED_URLS)
    # Its middleware, first in the chain, in our subclass that lets a disallowed Host through.
    middleware = list(settings.MIDDLEWARE)
    middleware[middleware.index(_OTEL_DJANGO_MIDDLEWARE)] = "apps.core.middleware.TracingMiddleware"
    settings.MIDDLEWARE = middleware
    query_tracing.install()
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    BotocoreInstrumentor().instrument(tracer_provider=provider)
    # Celery sends a signal to its receivers in the order they connected: the suppression below is
    # attached after the instrumentation has made the task's span current, and detached before it
    # ends that span.
    task_postrun.connect(_end_dropped_task, weak=False)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    task_prerun.connect(_start_dropped_task, weak=False)


# Each running task the sampler dropped: the token of the suppression attached for it.
_dropped_tasks: dict[str, object] = {}


def _start_dropped_task(task_id: str | None = None, **_: Any) -> None:
    """A task the sampler dropped records nothing below it, as a dropped request does
    (TracingMiddleware): the instrumentations (its queries, AWS calls) make no unrecorded spans.
    Its trace still travels: ShopStack's event code and Celery's publish hook inject it
    themselves."""
    span = trace.get_current_span()
    if task_id is not None and span.get_span_context().is_valid and not span.is_recording():
        _dropped_tasks[task_id] = context_api.attach(context_api.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))


def _end_dropped_task(task_id: str | None = None, **_: Any) -> None:
    token = _dropped_tasks.pop(task_id, None) if task_id is not None else None
    if token is not None:
        context_api.detach(token)


@contextmanager
def instrumented_in(parent: Context) -> Iterator[None]:
    """Work that belongs to the trace `parent` names, done by a task that may record nothing of its
    own: when that trace is sampled, the instrumentations record below it even in a dropped task
    (the outbox sweep, dropped as housekeeping, still records the sending of a sampled event)."""
    if not trace.get_current_span(parent).get_span_context().trace_flags.sampled:
        yield
        return
    token = context_api.attach(context_api.set_value(_SUPPRESS_INSTRUMENTATION_KEY, False))
    try:
        yield
    finally:
        context_api.detach(token)


class RequestIdGenerator(AwsXRayIdGenerator):
    """X-Ray-compatible ids. A new trace's id is the one the request was sampled on when there is
    one (`reserved_trace_id`): the ratio sampler decides by the trace id, so the server span the
    instrumentation starts must be given the id the middleware's decision was made on, or it
    decides again on a fresh one (at 10 %, one request in a hundred would be recorded)."""

    def generate_trace_id(self) -> int:
        reserved = _reserved_trace_id.get()
        return reserved if reserved is not None else super().generate_trace_id()


_reserved_trace_id: ContextVar[int | None] = ContextVar("shopstack_reserved_trace_id", default=None)


@contextmanager
def reserved_trace_id(trace_id: int) -> Iterator[None]:
    """Within the block, a span that starts a trace takes `trace_id` (RequestIdGenerator)."""
    token = _reserved_trace_id.set(trace_id)
    try:
        yield
    finally:
        _reserved_trace_id.reset(token)


class RequestSampling(NamedTuple):
    """The sampler's decision for an incoming request, made once, before any instrumentation runs.

    recorded: the request is traced, under `trace_id` (a new trace's id, or the caller's), as a
    child of `context` (what the caller's headers carried; empty for a new trace). Otherwise
    `context` holds an unrecorded span of the trace, so ids still travel in logs, events and calls
    while the instrumentations' per-request and per-query work is skipped.

    settled: the configured sampler records the request's server span whatever its name and
    attributes (a parent-based ratio, as deployed), so the span can be started without asking it
    again (apps.core.recorded_spans); False when the decision was made on stand-ins for them."""

    recorded: bool
    trace_id: int
    context: Context
    settled: bool = False


def sample_request(environ: Mapping[str, Any]) -> RequestSampling | None:
    """The provider's own sampler's decision for a request with this WSGI environ, made as the
    instrumentation would make it, so a trace is still recorded whole or not at all; None with
    tracing off.

    Every request pays for this, and at 10 % nine in ten are then dropped, so the commonest case,
    a request that carries no trace context, takes a short way with the same outcome: the ratio
    sampler's test on the new trace id (_new_trace_bound) instead of the sampler chain, and the
    unrecorded span's context built in one step."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return None
    propagator = get_global_textmap()
    if any(map(environ.__contains__, _environ_keys(propagator))):
        return _sample_continued(provider, propagator.extract(environ, getter=wsgi_getter))
    trace_id = provider.id_generator.generate_trace_id()
    bound = _new_trace_bound(provider.sampler)
    if bound is None:
        result = provider.sampler.should_sample(Context(), trace_id, "request", SpanKind.SERVER)
        recorded = result.decision.is_sampled()
    else:
        recorded = trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound
    if recorded:
        return RequestSampling(True, trace_id, Context(), settled=bound is not None)
    span = NonRecordingSpan(
        SpanContext(trace_id, provider.id_generator.generate_span_id(), is_remote=False, trace_flags=_NOT_SAMPLED)
    )
    # What trace.set_span_in_context and then context_api.set_value would make of an empty context.
    return RequestSampling(False, trace_id, Context({_SPAN_KEY: span, _SUPPRESS_INSTRUMENTATION_KEY: True}))


def _sample_continued(provider: TracerProvider, parent_context: Context) -> RequestSampling:
    """sample_request for a request whose headers carry trace context (`parent_context`, which may
    still hold no valid span)."""
    parent = trace.get_current_span(parent_context).get_span_context()
    trace_id = parent.trace_id if parent.is_valid else provider.id_generator.generate_trace_id()
    result = provider.sampler.should_sample(parent_context, trace_id, "request", SpanKind.SERVER)
    if result.decision.is_sampled():
        return RequestSampling(
            True, trace_id, parent_context, settled=parent.is_valid and children_follow_parent(provider.sampler)
        )
    span = NonRecordingSpan(
        SpanContext(
            trace_id=trace_id,
            span_id=provider.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=_NOT_SAMPLED,
            trace_state=result.trace_state,
        )
    )
    # Nothing below is recorded: the instrumentations (queries above all) need not make unrecorded
    # spans. The context still travels: Celery's instrumentation and ShopStack's own code (HTTP
    # headers, events) inject it themselves.
    unrecorded = context_api.set_value(
        _SUPPRESS_INSTRUMENTATION_KEY, True, trace.set_span_in_context(span, parent_context)
    )
    return RequestSampling(False, trace_id, unrecorded)


_NOT_SAMPLED = TraceFlags(TraceFlags.DEFAULT)
# The sampler delegate _new_trace_bound last looked at, and what it found.
_bound_for: tuple[object, int | None] = (object(), None)


def _new_trace_bound(sampler: Sampler) -> int | None:
    """For a new trace of a request, the bound the ratio sampler compares the trace id's low bits
    with, when the configured sampler comes down to one (QuietHousekeeping around a parent-based
    ratio, as deployed: a request is no housekeeping and a new trace has no parent); None for any
    other sampler, which is then asked. Worked out again whenever the delegate changes."""
    global _bound_for
    delegate = sampler.delegate if type(sampler) is QuietHousekeeping else None
    if _bound_for[0] is not delegate:
        root = delegate._root if isinstance(delegate, ParentBased) else None
        _bound_for = (delegate, root.bound if type(root) is TraceIdRatioBased else None)
    return _bound_for[1]


@lru_cache(maxsize=4)
def _environ_keys(propagator: TextMapPropagator) -> frozenset[str]:
    """The WSGI environ keys of the headers `propagator` reads (traceparent as HTTP_TRACEPARENT)."""
    return frozenset("HTTP_" + field.upper().replace("-", "_") for field in propagator.fields)


def memory_exporter_active() -> bool:
    """Whether this process keeps its spans in memory (the tests' exporter)."""
    return _memory is not None


def memory_exporter() -> InMemorySpanExporter:
    """The tests' exporter (TRACING_EXPORTER=memory)."""
    if _memory is None:
        raise RuntimeError("TRACING_EXPORTER is not 'memory' in this process.")
    return _memory


def tracing_flush() -> None:
    """Export every finished span now (a short-lived command before it exits)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()


# --- Carrying a trace in an event ---------------------------------------------------------------------


def carrier_from_context() -> dict[str, str]:
    """The current trace context as W3C headers (traceparent, and tracestate when there is one);
    empty outside any trace or with tracing off."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def context_from_traceparent(traceparent: str) -> Context:
    """The context an event's stored `traceparent` names (an empty one for "")."""
    return extract({"traceparent": traceparent} if traceparent else {})


def event_context(*, traceparent: str, trace_id: str) -> Context:
    """The trace an event belongs to: its traceparent; else, for an event published outside any
    span (tracing off, an older release), its trace id as an unsampled remote parent, so what it
    causes keeps that id (logs join up) without being recorded half-way."""
    if traceparent:
        return context_from_traceparent(traceparent)
    if not _TRACE_ID.match(trace_id) or not int(trace_id, 16):
        return Context()
    parent = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int.from_bytes(os.urandom(8), "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))
