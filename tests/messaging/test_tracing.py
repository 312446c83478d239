"""One order is one trace in the split shape: five services in their own processes (gunicorn for
orders and catalog, a Celery worker each over SNS/SQS on the moto server), spans written by the
file exporter and read back. The checkout request, catalog's reservation, the payment, the
confirmation and the email share the trace id the request started; a replayed (redelivered)
event joins that trace; an event no worker can read is retried and dead-lettered, and its spans
say so; `manage.py trace` prints the order's tree across the services."""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid

import pytest
import requests

from apps.core.trace_tree import spans_load
from apps.core.tracing import tracer
from tests.core.tokens import access_token
from tests.messaging.stack import MotoServer, SplitStack, eventually

pytestmark = pytest.mark.messaging

SERVICES = ("users", "catalog", "orders", "payments", "notifications")
WORKERS = ("catalog", "orders", "payments", "notifications")
ADDRESS = {
    "full_name": "Tra Ce",
    "line1": "1 Span Street",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}
SEED = """
from apps.catalog.importing import validate_rows
from apps.catalog.services.imports import catalog_import
rows, errors = validate_rows([(2, {"product_slug": "trace-mug", "product_name": "Trace mug", "sku": "TRACE-MUG",
                                   "price": "12.50", "currency": "EUR", "stock": "9"})])
assert not errors, errors
catalog_import(rows=rows, actor="test", reason="seed")
"""


@pytest.fixture(scope="module")
def saga_stack(moto_server: MotoServer, tmp_path_factory):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    stack = SplitStack(
        moto_server,
        tmp_path_factory.mktemp("traced"),
        db_prefix=os.environ.get("TEST_DB_PREFIX", "shopstack") + "_trc" + (f"_{worker}" if worker else ""),
    )
    # Metric lines on stdout, as deployed: the dead-letter test reads the worker's.
    stack.extra_env["METRICS_EMBEDDED"] = "true"
    try:
        for service in SERVICES:
            stack.create_database(service)
        stack.manage("users", "provision_aws")
        stack.shell("catalog", SEED)
        stack.manage("orders", "seed_pricing_demo")
        catalog_url = stack.start_web("catalog")
        stack.orders_url = stack.start_web("orders", CATALOG_API_URL=catalog_url)
        for service in WORKERS:
            stack.start_worker(service)
        yield stack
    finally:
        stack.stop()
        for service in SERVICES:
            stack.drop_database(service)


def _spans(stack: SplitStack, trace_id: str) -> list[dict]:
    return [span for span in spans_load(stack.traces_dir) if span["trace_id"] == trace_id]


def _named(spans: list[dict], name: str, **attributes) -> list[dict]:
    return [
        span
        for span in spans
        if span["name"] == name and all(span["attributes"].get(key) == value for key, value in attributes.items())
    ]


def _orphans(spans: list[dict]) -> list[dict]:
    ids = {span["span_id"] for span in spans}
    return [span for span in spans if span["parent_id"] not in ids]


def _service(span: dict) -> str:
    return span["service"].removeprefix("shopstack-")


@pytest.fixture(scope="module")
def placed_order(saga_stack):
    """A checkout over HTTP, in a trace the test starts (sent as its W3C traceparent)."""
    shopper = uuid.uuid4()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token(subject=shopper, email='trace@example.com')}"
    added = session.post(
        f"{saga_stack.orders_url}/api/v1/orders/cart/lines/", json={"sku": "TRACE-MUG", "quantity": 1}, timeout=30
    )
    assert added.status_code == 200, added.text
    # This process traces too (in memory): its requests instrumentation sends the traceparent.
    with tracer().start_as_current_span("test checkout") as span:
        response = session.post(
            f"{saga_stack.orders_url}/api/v1/orders/",
            json={"shipping_address": ADDRESS, "payment_method_token": "tok_visa"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert response.status_code == 201, response.text
    assert response.headers["X-Trace-ID"] == trace_id
    return {"trace_id": trace_id, "id": response.json()["id"], "number": response.json()["number"]}


def test_checkout_reservation_payment_confirmation_and_email_are_one_trace(saga_stack, placed_order):
    trace_id = placed_order["trace_id"]
    # Then the email goes out in the notifications worker's handler, in the checkout's trace
    # (and every span's parent has been written: each process writes its own file, a parent after
    # its children have ended)
    spans = eventually(
        lambda: (
            (found := _spans(saga_stack, trace_id))
            and _named(found, "send email")
            and len(_orphans(found)) == 1
            and found
        ),
        timeout=90,
        message="the confirmation email's span, in a whole tree",
    )
    handled = {(_service(span), span["name"]) for span in spans if span["name"].startswith("handle ")}
    assert {
        ("catalog", "handle order.created"),
        ("orders", "handle stock.reserved"),
        ("payments", "handle payment.requested"),
        ("orders", "handle payment.succeeded"),
        ("notifications", "handle order.confirmed"),
    } <= handled
    assert {_service(span) for span in spans} >= {"orders", "catalog", "payments", "notifications"}
    # orders priced the cart through catalog's API over HTTP: catalog's server span is in the trace
    assert any(span["kind"] == "SERVER" and _service(span) == "catalog" for span in spans)
    # Every hop is parented: the Celery run of an event is the child of the span that sent it
    by_id = {span["span_id"]: span for span in spans}
    for run in _named(spans, "run/apps.core.events.handle_event"):
        assert by_id[run["parent_id"]]["name"].startswith("publish ")
        assert run["attributes"]["messaging.sqs.receive_count"] == 1
    # The only span without a parent here is the checkout request (its parent is the test's)
    assert [(span["kind"], _service(span)) for span in _orphans(spans)] == [("SERVER", "orders")]
    # And the order is confirmed
    status = saga_stack.query("orders", "SELECT status FROM orders_order WHERE id = %s", (placed_order["id"],))
    assert status == [("confirmed",)]


def test_a_redelivered_event_joins_the_same_trace(saga_stack, placed_order):
    trace_id = placed_order["trace_id"]
    eventually(lambda: _named(_spans(saga_stack, trace_id), "handle order.created"), timeout=60, message="first")

    # When orders sends order.created again (replay_events: as SQS would redeliver it)
    saga_stack.manage("orders", "replay_events", "--type", "order.created")

    # Then catalog skips it as a duplicate, in the checkout's trace
    duplicate = eventually(
        lambda: _named(_spans(saga_stack, trace_id), "handle order.created", **{"shopstack.duplicate": True}),
        timeout=60,
        message="the duplicate delivery's span",
    )
    assert _service(duplicate[0]) == "catalog"
    first = _named(_spans(saga_stack, trace_id), "handle order.created", **{"shopstack.duplicate": False})
    assert len(first) == 1


def test_a_dead_lettered_event_says_so_in_its_trace(saga_stack):
    # Given an event in a version notifications does not read, published inside a trace
    trace_id = f"{int(time.time()):08x}{secrets.token_hex(12)}"
    code = f"""
from apps.core.events.envelope import Envelope
from apps.core.events.outbox import send_traced
from apps.core.events.transport import get_transport
envelope = Envelope(type="order.confirmed", producer="orders", version=9, trace_id="{trace_id}",
                    traceparent="00-{trace_id}-{secrets.token_hex(8)}-01", payload={{}})
send_traced(envelope, get_transport())
"""
    saga_stack.shell("orders", code)

    # Then notifications' worker fails it on each of the EVENTS_MAX_RECEIVES (3) receives, in that
    # trace, and its last failure says SQS dead-letters it
    def runs() -> list[dict]:
        return [
            span
            for span in _named(_spans(saga_stack, trace_id), "run/apps.core.events.handle_event")
            if _service(span) == "notifications"
        ]

    eventually(lambda: len(runs()) >= 3, timeout=90, message="three receives of the unreadable event")
    by_receive = {span["attributes"]["messaging.sqs.receive_count"]: span for span in runs()}
    assert sorted(by_receive) == [1, 2, 3]
    assert all(span["status"] == "ERROR" for span in by_receive.values())
    assert [by_receive[count]["attributes"]["shopstack.dead_lettered"] for count in (1, 2, 3)] == [False, False, True]
    assert by_receive[1]["attributes"]["shopstack.retry_in_seconds"] == 1
    handled = _named(_spans(saga_stack, trace_id), "handle order.confirmed")
    assert handled and all(span["status"] == "ERROR" for span in handled)
    # And the worker counted it, once, in the DeadLettered metric and three handler failures
    log = (saga_stack.log_dir / "worker-notifications.log").read_text().splitlines()
    metrics = [json.loads(line) for line in log if line.startswith('{"_aws"')]
    assert [m["Service"] for m in metrics if "DeadLettered" in m] == [saga_stack.resource_prefix + "notifications"]
    failures = [m for m in metrics if m.get("EventType") == "order.confirmed" and "HandlerFailures" in m]
    assert len(failures) == 3


def test_the_trace_command_prints_the_order_across_services(saga_stack, placed_order):
    eventually(
        lambda: (
            (found := _spans(saga_stack, placed_order["trace_id"]))
            and _named(found, "send email")
            and len(_orphans(found)) == 1
        ),
        timeout=90,
        message="the email's span, in a whole tree",
    )

    out = saga_stack.manage("orders", "trace", placed_order["number"]).stdout

    lines = out.splitlines()
    assert lines[0].startswith(f"trace {placed_order['trace_id']}: ")
    assert "catalog, notifications, orders, payments" in lines[0]
    assert lines[1].lstrip().startswith("POST api/v1/orders/  (orders)")
    assert any(line.lstrip().startswith("handle order.confirmed  (notifications)") for line in lines)
    assert any(line.lstrip().startswith("send email  (notifications)") for line in lines)
