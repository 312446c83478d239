"""The shopper present over the moto server with real workers: payments' charge task meets 3-D
Secure (the sandbox's `tok_3ds_required`), payment.action_required travels to orders' worker,
which shows the order waiting with the client secret; the shopper authenticates and returns, and
payment.succeeded confirms the order once, also when the events are delivered again. A guest's
declined order is paid again with the order's retry key, whose hash alone reached payments."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from tests.messaging.stack import eventually

pytestmark = pytest.mark.messaging
SERVICES = ("orders", "payments")


@pytest.fixture(scope="module")
def saga_stack(split_stack):
    """The session's stack plus orders and payments (their databases and workers), for this module."""
    for service in SERVICES:
        split_stack.create_database(service)
        split_stack.start_worker(service)
    yield split_stack
    for service in SERVICES:
        split_stack.stop_worker(service)
        split_stack.drop_database(service)


def _stock_reserved_order(stack) -> str:
    """An order whose stock is held, as the saga leaves it before asking payments."""
    output = stack.shell(
        "orders",
        """
import uuid
from datetime import timedelta
from decimal import Decimal
from django.utils import timezone
from apps.orders.models import Order
now = timezone.now()
order = Order.objects.create(
    number="SO-" + uuid.uuid4().hex[:10].upper(), customer_id=uuid.uuid4(), email="tds@example.com",
    status="stock_reserved", status_changed_at=now, currency="EUR", subtotal=Decimal("10"),
    shipping=Decimal("0"), tax=Decimal("0"), total=Decimal("10"), tax_rate=Decimal("0"),
    shipping_address={}, idempotency_key=uuid.uuid4().hex, request_fingerprint="x",
    payment_status="requested", payment_deadline=now + timedelta(minutes=15),
)
print("ORDER", order.id, order.customer_id, order.number, order.payment_deadline.isoformat())
""",
    )
    return output.split("ORDER ", 1)[1].split()


def _order(stack, order_id: str) -> tuple:
    [row] = stack.query("orders", "SELECT status, payment_action FROM orders_order WHERE id = %s", (order_id,))
    return row


def test_3ds_travels_to_orders_and_the_return_confirms_once(saga_stack):
    split_stack = saga_stack
    order_id, customer_id, number, deadline = _stock_reserved_order(split_stack)

    split_stack.shell(
        "payments",
        f"""
import uuid
from decimal import Decimal
from django.utils.dateparse import parse_datetime
from apps.payments.services.charges import PaymentRequest, payment_request
payment_request(request=PaymentRequest(
    order_id=uuid.UUID({order_id!r}), order_number={number!r}, customer_id=uuid.UUID({customer_id!r}),
    amount=Decimal("10.00"), currency="EUR", payment_method_token="tok_3ds_required",
    idempotency_key="order-{order_id}-payment", pay_by=parse_datetime({deadline!r}),
))
""",
    )

    waiting = eventually(
        lambda: (row := _order(split_stack, order_id))[0] == "payment_action_required" and row,
        timeout=60,
        message="the order waiting for 3-D Secure",
    )
    action = waiting[1] if isinstance(waiting[1], dict) else json.loads(waiting[1])
    assert action["next_action"]["type"] == "redirect_to_url" and action["client_secret"]

    # The shopper at the sandbox's bank page, then back at the return URL.
    returned = split_stack.shell(
        "payments",
        f"""
from apps.payments.models import PaymentIntent
from apps.payments.providers import get_provider
from apps.payments.services.attempts import payment_return
intent = PaymentIntent.objects.get(order_id={order_id!r})
get_provider().authenticate(intent_id=intent.provider_intent_id, client_secret={action["client_secret"]!r})
answer = payment_return(payment_intent=intent.provider_intent_id, client_secret={action["client_secret"]!r})
print("STATUS", answer.status)
""",
    )
    assert "STATUS succeeded" in returned

    eventually(lambda: _order(split_stack, order_id)[0] == "confirmed", timeout=60, message="the order confirmed")
    split_stack.manage("payments", "replay_events", "--type", "payment.succeeded")
    split_stack.manage("payments", "replay_events", "--type", "payment.action_required")
    log = split_stack.log_dir / "worker-orders.log"
    eventually(lambda: "duplicate payment.action_required" in log.read_text(), message="the replay seen by orders")
    assert _order(split_stack, order_id)[0] == "confirmed"
    changes = split_stack.query(
        "orders",
        "SELECT to_status FROM orders_orderstatuschange WHERE order_id = %s ORDER BY at, id",
        (order_id,),
    )
    assert [row[0] for row in changes] == ["payment_action_required", "confirmed"]
    [(published,)] = split_stack.query(
        "payments",
        "SELECT count(*) FROM payments_outboxevent "
        "WHERE event_type = 'payment.succeeded' AND payload->>'order_id' = %s",
        (order_id,),
    )
    assert published == 1
    assert uuid.UUID(order_id)


def test_a_guest_pays_again_with_the_key_whose_hash_travelled_to_payments(saga_stack):
    # given a guest's order whose stock is held: orders asks for the payment over SNS/SQS with
    # the hash of the order's retry key, and the payment method is declined
    split_stack = saga_stack
    output = split_stack.shell(
        "orders",
        """
from tests.orders.factories import order
from apps.orders.services.saga import saga_stock_reserved
placed = order(customer_id=None, email="guest.retry@example.com")
saga_stock_reserved(order_id=str(placed.id))
print("ORDER", placed.id)
""",
    )
    order_id = output.split("ORDER ", 1)[1].split()[0]
    waiting = eventually(
        lambda: (row := _order(split_stack, order_id))[0] == "payment_action_required" and row,
        timeout=60,
        message="the guest's order waiting for another payment method",
    )
    action = waiting[1] if isinstance(waiting[1], dict) else json.loads(waiting[1])
    retry_key = action["retry_key"]
    assert action["reason_code"] == "invalid_payment_method" and retry_key
    # payments holds only the key's hash, and no event carried the key
    [(stored,)] = split_stack.query(
        "payments", "SELECT retry_key_hash FROM payments_paymentintent WHERE order_id = %s", (order_id,)
    )
    assert stored == hashlib.sha256(retry_key.encode()).hexdigest()
    for service in SERVICES:
        leaked = split_stack.query(
            service, f"SELECT count(*) FROM {service}_outboxevent WHERE payload::text LIKE %s", (f"%{retry_key}%",)
        )
        assert leaked == [(0,)]

    # when the guest's client pays again: with another key first, then with the order's
    answered = split_stack.shell(
        "payments",
        f"""
import uuid
from apps.payments.errors import PaymentNotFound
from apps.payments.services.attempts import payment_retry
order_id = uuid.UUID({order_id!r})
try:
    payment_retry(order_id=order_id, payment_method_token="tok_visa", retry_key="not-the-key")
except PaymentNotFound:
    print("REFUSED")
answer = payment_retry(order_id=order_id, payment_method_token="tok_visa", retry_key={retry_key!r})
print("STATUS", answer.intent.status, answer.intent.attempt)
""",
    )

    # then only the order's key paid, and payment.succeeded confirmed the order, its key gone
    assert "REFUSED" in answered and "STATUS succeeded 2" in answered
    eventually(lambda: _order(split_stack, order_id)[0] == "confirmed", timeout=60, message="the order confirmed")
    assert _order(split_stack, order_id)[1] in ({}, "{}")
