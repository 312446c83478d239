"""One order is one trace, in the all-in-one shape (in-process events, the in-memory exporter):
the checkout request, catalog's reservation, the payment, the confirmation and the email are spans
of the trace the request started, each handler a child of the span that published its event; the
trace id is X-Ray's form and the one the response and the outbox rows carry."""

from __future__ import annotations

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from opentelemetry.trace import SpanKind

from apps.core.tracing import JsonLinesSpanExporter
from apps.orders.models import Order, OrderStatus
from apps.orders.models import OutboxEvent as OrdersOutbox
from tests.orders.conftest import client_for, make_shopper
from tests.orders.test_full_saga import _checkout, seed
from tests.tracing.conftest import named, trace_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


def _attribute(span, key: str):
    return (span.attributes or {}).get(key)


def test_checkout_to_email_is_one_trace(live_catalog, spans):
    seed("TRACE-MUG", price="12.50", stock=5)
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": "TRACE-MUG", "quantity": 1}, format="json")

    response = _checkout(client, "tok_visa", "trace-1")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == OrderStatus.CONFIRMED
    # The checkout request's server span started the trace; the response names it.
    [server] = [span for span in named(spans(), "POST api/v1/orders/") if span.kind == SpanKind.SERVER]
    trace_id = server.context.trace_id
    assert response["X-Trace-ID"] == format(trace_id, "032x")
    # X-Ray's form: the first 32 bits are the trace's start in epoch seconds.
    assert abs((trace_id >> 96) - time.time()) < 600
    in_trace = trace_of(spans(), trace_id)
    handled = {
        (_attribute(span, "shopstack.service"), span.name) for span in in_trace if span.name.startswith("handle ")
    }
    assert {
        ("catalog", "handle order.created"),
        ("payments", "handle payment.requested"),
        ("orders", "handle stock.reserved"),
        ("orders", "handle payment.succeeded"),
        ("notifications", "handle order.confirmed"),
    } <= handled
    # The email goes out in the confirmation's handler, and the provider call is measured too.
    assert named(in_trace, "send email")
    assert named(in_trace, "payment provider charge")
    # A tree: every span but the root has its parent in the trace.
    ids = {span.context.span_id for span in in_trace}
    assert [span for span in in_trace if span.parent is None or span.parent.span_id not in ids] == [server]
    # Each handler is a child of the span that published its event.
    by_id = {span.context.span_id: span for span in in_trace}
    for handler in (span for span in in_trace if span.name.startswith("handle ")):
        publisher = by_id[handler.parent.span_id]
        assert publisher.name == "publish " + handler.name.removeprefix("handle ")
    # The outbox rows keep the trace: its id, and the context they were published in.
    rows = OrdersOutbox.objects.filter(payload__order_id=str(order.id))
    assert rows and all(row.trace_id == format(trace_id, "032x") for row in rows)
    assert all(row.traceparent.split("-")[1] == format(trace_id, "032x") for row in rows)
    # The orders spans name the order, so its trace can be found by number.
    assert any(_attribute(span, "shopstack.order_number") == order.number for span in in_trace)


def test_an_incoming_traceparent_is_continued(live_catalog, spans):
    client = client_for(make_shopper())
    parent = "00-5f0c2a1b0123456789abcdef01234567-00f067aa0ba902b7-01"

    response = client.get("/api/v1/orders/", HTTP_TRACEPARENT=parent)

    assert response.status_code == 200
    assert response["X-Trace-ID"] == "5f0c2a1b0123456789abcdef01234567"
    [server] = [span for span in spans() if span.kind == SpanKind.SERVER]
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"


def test_the_trace_command_prints_the_orders_tree_from_span_files(live_catalog, spans, tmp_path, settings):
    seed("TRACE-CUP", price="8.00", stock=5)
    client = client_for(make_shopper())
    client.post("/api/v1/orders/cart/lines/", {"sku": "TRACE-CUP", "quantity": 1}, format="json")
    order = Order.objects.get(pk=_checkout(client, "tok_visa", "trace-2").json()["id"])
    # Given the spans as the file exporter writes them
    settings.TRACING_FILE_DIR = tmp_path
    JsonLinesSpanExporter(tmp_path).export(spans())

    out = StringIO()
    call_command("trace", order.number, stdout=out)

    lines = out.getvalue().splitlines()
    [server] = [span for span in named(spans(), "POST api/v1/orders/") if span.kind == SpanKind.SERVER]
    assert lines[0].startswith(f"trace {format(server.context.trace_id, '032x')}: ")
    assert "catalog, notifications, orders, payments" in lines[0]
    assert lines[1].startswith("  POST api/v1/orders/  (shopstack)  ")
    # Deeper down, indented under the span that published its event, each service's handler.
    handled = [line for line in lines if line.lstrip().startswith("handle ")]
    assert any(line.lstrip().startswith("handle order.confirmed  (notifications)  ") for line in handled)
    depth = {line.strip().split("  ")[0]: len(line) - len(line.lstrip()) for line in lines[1:]}
    assert depth["handle order.created"] > depth["publish order.created"] > depth["POST api/v1/orders/"]
    assert all(" ms  @+" in line for line in lines[1:])


def test_the_trace_command_says_when_nothing_names_the_key(tmp_path, settings):
    settings.TRACING_FILE_DIR = tmp_path
    with pytest.raises(CommandError, match="No spans"):
        call_command("trace", "SO-NOTHING")
    (tmp_path / "x.jsonl").write_text("{not json\n")
    with pytest.raises(CommandError, match="No spans"):
        call_command("trace", "SO-NOTHING")


def test_a_request_the_sampler_drops_is_not_recorded_but_keeps_its_trace_id(spans):
    client = client_for(make_shopper())
    # The caller did not sample this trace (flags 00): parent-based sampling records none of it.
    unsampled = "00-5f0c2a1b0123456789abcdef01234567-00f067aa0ba902b7-00"

    response = client.get("/api/v1/orders/", HTTP_TRACEPARENT=unsampled)

    assert response.status_code == 200
    assert response["X-Trace-ID"] == "5f0c2a1b0123456789abcdef01234567"
    assert spans() == ()
