"""The checkout saga as staff watch it: CloudWatch metrics (apps.core.metrics) for each step,
emitted once the step's transaction commits (a rolled-back step counts nothing), and the order
named on the current span, so `manage.py trace <order number>` and X-Ray find its trace."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from opentelemetry import trace

from apps.core.db import on_commit
from apps.core.metrics import metric_emit
from apps.core.tracing import ORDER_ID_ATTRIBUTE, ORDER_NUMBER_ATTRIBUTE
from apps.orders.models import Order, OrderStatus

SERVICE = "orders"


def _service() -> str:
    # The stack's resource prefix keeps two environments in one account apart.
    return settings.AWS_RESOURCE_PREFIX + SERVICE


def order_span_tag(order: Order) -> None:
    """Name `order` on the current span (the request's or the event handler's)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(ORDER_ID_ATTRIBUTE, str(order.id))
        span.set_attribute(ORDER_NUMBER_ATTRIBUTE, order.number)


def _count(name: str, **dimensions: str) -> None:
    metric_emit(name=name, value=1, unit="Count", dimensions={"Service": _service(), **dimensions})


def _since_checkout(name: str, order: Order) -> None:
    seconds = (timezone.now() - order.created_at).total_seconds()
    metric_emit(name=name, value=round(seconds, 3), unit="Seconds", dimensions={"Service": _service()})


def cancel_reason_dimension(reason: str) -> str:
    """The reason's code without its detail ("payment_failed:card_declined" -> "payment_failed"),
    so the Reason dimension keeps a handful of values."""
    return reason.split(":", 1)[0].strip()[:50] or "unspecified"


def order_placed_report(order: Order) -> None:
    order_span_tag(order)
    on_commit(SERVICE, lambda: _count("OrdersPlaced"))


def order_paid_report(order: Order) -> None:
    on_commit(SERVICE, lambda: _since_checkout("CheckoutToPaid", order))


def order_status_report(order: Order, *, to: str, reason: str) -> None:
    """The metrics of the saga step that moved `order` to `to`."""
    order_span_tag(order)
    if to == OrderStatus.STOCK_RESERVED:
        on_commit(SERVICE, lambda: _since_checkout("CheckoutToReserved", order))
    elif to == OrderStatus.CONFIRMED:
        on_commit(SERVICE, lambda: (_count("OrdersConfirmed"), _since_checkout("CheckoutToConfirmed", order)))
    elif to == OrderStatus.CANCELLED:
        on_commit(
            SERVICE,
            lambda: metric_emit(
                name="OrdersCancelled",
                value=1,
                unit="Count",
                dimensions={"Service": _service(), "Reason": cancel_reason_dimension(reason)},
                dimension_sets=[["Service"], ["Service", "Reason"]],
            ),
        )
