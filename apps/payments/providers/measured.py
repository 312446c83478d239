"""Every call to the card provider measured: a span ("payment provider <operation>") and the
CloudWatch metrics PaymentProviderLatency (milliseconds) and PaymentProviderErrors, by operation.
A declined card is the provider answering, not failing: it counts in the latency, not the errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from opentelemetry.trace import SpanKind, Status, StatusCode

from apps.core.metrics import metric_emit
from apps.core.tracing import SERVICE_ATTRIBUTE, tracer
from apps.payments.providers.base import PaymentDeclined

SERVICE = "payments"


@contextmanager
def provider_call(operation: str, *, provider: str) -> Iterator[None]:
    dimensions = {"Service": settings.AWS_RESOURCE_PREFIX + SERVICE, "Operation": operation}
    started = time.perf_counter()
    with tracer().start_as_current_span(
        f"payment provider {operation}",
        kind=SpanKind.CLIENT,
        attributes={SERVICE_ATTRIBUTE: SERVICE, "shopstack.payment_provider": provider},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except PaymentDeclined as declined:
            span.set_attribute("shopstack.payment_declined", declined.code)
            raise
        except Exception as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            metric_emit(name="PaymentProviderErrors", value=1, unit="Count", dimensions=dimensions)
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            metric_emit(
                name="PaymentProviderLatency", value=round(elapsed_ms, 2), unit="Milliseconds", dimensions=dimensions
            )
