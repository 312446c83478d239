"""Query spans: the psycopg instrumentation's cursor tracer, deciding before it builds anything.

The maintained tracer starts a span through the sampler for every query, recorded or not, makes it
the current span for the query's duration and then sets its attributes one locked call at a time.
Most queries are in no recorded trace (at 10 %, nine requests and tasks in ten are dropped, and
the relay's and beat's queries belong to no request at all), so that was the bulk of what tracing
cost a query. This tracer asks what the configured sampler would answer from the parent alone:

- a query outside any trace is never recorded: QuietHousekeeping drops a database query that has
  no parent. (The maintained tracer passes its attributes only after the span has started, so the
  sampler could not see that it was a query, and a lone query started a trace of its own at the
  sampling ratio: the relay's sweeps and each new connection's set-up);
- under a parent-based sampler with its default children's samplers (as deployed), a query is
  recorded exactly when its parent is sampled. Otherwise the query runs with no span at all.

A recorded query's span gets the maintained tracer's own name and attributes (its _populate_span,
into a dict), given at the start, and is not made current: nothing is traced inside a query. With
anything else configured (a sampler whose children do not follow their parent, SQL comments,
the new database semantic conventions' metrics) the maintained tracer runs as it is.
tests/tracing/test_query_spans.py holds the two tracers' spans equal."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from opentelemetry import context as context_api
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.instrumentation import psycopg as psycopg_instrumentation
from opentelemetry.instrumentation._semconv import _report_new
from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY_PLAIN
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation import _SPAN_KEY

from apps.core.recorded_spans import AttributeCollector, start_settled_span
from apps.core.tracing import children_follow_parent


class QueryTracer(psycopg_instrumentation.CursorTracer):
    def traced_execution(self, cursor: Any, query_method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        current = context_api.get_current()
        if current.get(_SUPPRESS_INSTRUMENTATION_KEY) or current.get(_SUPPRESS_INSTRUMENTATION_KEY_PLAIN):
            return query_method(*args, **kwargs)
        if not self._lean():
            return super().traced_execution(cursor, query_method, *args, **kwargs)
        parent = current.get(_SPAN_KEY)
        if parent is None or not parent.get_span_context().trace_flags.sampled:
            return query_method(*args, **kwargs)
        attributes = AttributeCollector()
        self._populate_span(attributes, cursor, *args)
        integration = self._db_api_integration
        span = start_settled_span(
            integration._tracer,
            self.get_operation_name(cursor, args) or integration.database or integration.name,
            context=current,
            kind=SpanKind.CLIENT,
            attributes=attributes,
        )
        try:
            return query_method(*args, **kwargs)
        except Exception as error:  # recorded as the maintained tracer's use_span records it
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            span.end()

    def get_operation_name(self, cursor: Any, args: Any) -> str:
        statement = args[0] if args else None
        if type(statement) is str and statement:
            return _operation_name(statement)
        return super().get_operation_name(cursor, args)

    def _lean(self) -> bool:
        integration = self._db_api_integration
        return (
            not self._commenter_enabled
            and not _report_new(integration._sem_conv_opt_in_mode_db)
            and children_follow_parent(getattr(integration._tracer, "sampler", None))
        )


# The maintained tracer's pattern for a leading comment (dbapi's CursorTracer).
_LEADING_COMMENT = re.compile(r"^/\*.*?\*/")


@lru_cache(maxsize=512)
def _operation_name(statement: str) -> str:
    """A statement's span name as the maintained tracer finds it (the first word after a leading
    comment), kept per statement text: it splits the whole text, some 1,600 characters for the
    product list, and a service runs the same few statements again and again."""
    return _LEADING_COMMENT.sub("", statement).split()[0]


def install() -> None:
    """Makes the psycopg instrumentation's cursors use QueryTracer: its cursor factory looks the
    tracer class up by this name when a connection is made. Call before instrumenting."""
    psycopg_instrumentation.CursorTracer = QueryTracer
