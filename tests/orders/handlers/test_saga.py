"""The checkout saga from orders' side: sample envelopes from catalog and payments, delivered as
the transport would, move the order and publish the next step; redelivery changes nothing."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from apps.core.events.handlers import deliver
from apps.orders.models import InboxEvent, OrderStatus, PaymentStatus, Refund
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.saga import payment_idempotency_key
from tests.orders.conftest import advance_to_confirmed, event, published, send

pytestmark = pytest.mark.django_db(databases="__all__")


def test_checkout_publishes_order_created(place_order, shopper):
    order = place_order(shopper, {"MUG-01": 2, "TEE-RED-M": 1})

    [created] = published("order.created", order)
    assert created["order_number"] == order.number
    assert created["customer_id"] == str(shopper.id)
    assert sorted((line["sku"], line["quantity"]) for line in created["lines"]) == [("MUG-01", 2), ("TEE-RED-M", 1)]
    assert order.status == OrderStatus.PENDING


def test_happy_path_stock_reserved_then_payment_succeeded(place_order, shopper):
    order = place_order(shopper)

    # stock.reserved -> stock_reserved, payment.requested with a deterministic idempotency key
    assert send("stock.reserved", "catalog", order_id=str(order.id), lines=[{"sku": "MUG-01", "quantity": 2}])
    order.refresh_from_db()
    assert order.status == OrderStatus.STOCK_RESERVED
    [requested] = published("payment.requested", order)
    assert requested == {
        "order_id": str(order.id),
        "order_number": order.number,
        "customer_id": str(shopper.id),
        "amount": "35.88",  # 2 x 12.50 + 4.90 shipping + 5.98 tax (goods 5.00, shipping 0.98)
        "currency": "EUR",
        "payment_method_token": "pm_test_visa",
        "idempotency_key": f"order-{order.id}-payment",
        "capture": "automatic",  # PAYMENTS_CAPTURE_AT=confirmation, the default
        "pay_by": order.payment_deadline.isoformat(),
        # Payments gets only the hash of the key the order's detail shows (a guest's way to pay again).
        "retry_key_sha256": hashlib.sha256(order.payment_action["retry_key"].encode()).hexdigest(),
    }
    assert len(order.payment_action["retry_key"]) >= 43  # 32 random bytes
    assert requested["idempotency_key"] == payment_idempotency_key(order)
    # The shopper has ORDERS_PAYMENT_ACTION_SECONDS to pay (3-D Secure, or another method).
    assert order.payment_deadline - order.status_changed_at == timedelta(seconds=settings.ORDERS_PAYMENT_ACTION_SECONDS)

    # payment.succeeded -> confirmed, order.confirmed
    assert send(
        "payment.succeeded",
        "payments",
        order_id=str(order.id),
        payment_id="pay_1",
        amount=str(order.total),
        currency="EUR",
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert order.payment_status == PaymentStatus.CAPTURED
    assert order.amount_captured == order.total
    assert order.payment_method_token == ""  # decided: the order keeps no credential
    assert order.payment_action == {}  # nor the retry key
    [confirmed] = published("order.confirmed", order)
    assert confirmed["email"] == shopper.email
    assert confirmed["total"] == "35.88"
    # The confirmation email's breakdown, and nothing it does not show (no SKU prices' tax rates, no address)
    assert confirmed["items"] == [
        {
            "product_name": "Product MUG-01",
            "variant_name": "Variant MUG-01",
            "quantity": 2,
            "unit_price": "12.50",
            "discount": "0.00",
            "total": "25.00",
        }
    ]
    assert (confirmed["subtotal"], confirmed["discount"], confirmed["shipping"], confirmed["tax"]) == (
        "25.00",
        "0.00",
        "4.90",
        "5.98",
    )
    assert (confirmed["shipping_method"], confirmed["prices_include_tax"]) == ("Standard", False)
    assert "shipping_address" not in confirmed
    assert [change.to_status for change in order.status_changes.all()] == ["pending", "stock_reserved", "confirmed"]


def test_redelivered_events_have_no_second_effect(place_order, shopper):
    order = place_order(shopper)
    reserved = event("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    assert deliver("orders", reserved) is True
    assert deliver("orders", reserved) is False  # same event id: the inbox drops it

    # A different event id with the same meaning: the state check makes it a no-op
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    assert len(published("payment.requested", order)) == 1

    succeeded = {"order_id": str(order.id), "payment_id": "pay_1", "amount": str(order.total), "currency": "EUR"}
    send("payment.succeeded", "payments", **succeeded)
    send("payment.succeeded", "payments", **succeeded)
    order.refresh_from_db()
    assert order.amount_captured == order.total
    assert len(published("order.confirmed", order)) == 1
    assert InboxEvent.objects.count() == 4


def test_stock_rejected_cancels_as_out_of_stock(place_order, shopper):
    order = place_order(shopper)
    assert order.payment_method_token == "pm_test_visa"  # kept only until it is asked for

    send("stock.rejected", "catalog", order_id=str(order.id), short=[{"sku": "MUG-01", "requested": 2, "available": 0}])

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "out_of_stock"
    assert order.payment_method_token == ""
    [cancelled] = published("order.cancelled", order)
    assert cancelled["reason"] == "out_of_stock"
    assert cancelled["lines"] == [{"sku": "MUG-01", "quantity": 2}]
    assert published("payment.requested", order) == []
    assert published("refund.requested", order) == []  # nothing was captured


def _payment_failed(order, *, attempt: int = 1, reason_code: str = "declined") -> bool:
    return send(
        "payment.failed",
        "payments",
        order_id=str(order.id),
        payment_id="pay_1",
        customer_id=str(order.customer_id),
        reason_code=reason_code,
        message="Card declined",
        attempt=attempt,
        failure_code="card_declined",
    )


def _action_required(order, *, attempt: int = 1) -> bool:
    return send(
        "payment.action_required",
        "payments",
        order_id=str(order.id),
        payment_id="pay_1",
        attempt=attempt,
        client_secret=f"pi_{attempt}_secret_x",
        next_action_type="redirect_to_url",
        redirect_url=f"https://bank.example/3ds/{attempt}",
        return_url="https://shop.example/api/v1/payments/return/",
    )


def test_payment_failed_leaves_the_order_waiting_for_another_method(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    order.refresh_from_db()
    retry_key = order.payment_action["retry_key"]

    _payment_failed(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert order.payment_status == PaymentStatus.FAILED
    assert order.payment_method_token == ""
    assert order.payment_action == {
        "attempt": 1,
        "failure_code": "card_declined",
        "reason_code": "declined",
        "message": "Card declined",
        "retry_key": retry_key,  # the same key, for as long as the order can be paid
    }
    # Stock stays held, nothing is cancelled or confirmed.
    assert published("order.cancelled", order) == []
    assert published("order.confirmed", order) == []


def test_payment_failed_of_an_order_from_before_deadlines_cancels_as_before(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    order.refresh_from_db()
    order.payment_deadline = None
    order.save(update_fields=["payment_deadline"])

    _payment_failed(order)

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, "payment_failed:declined")
    [cancelled] = published("order.cancelled", order)
    assert cancelled["reason"] == "payment_failed:declined"


def test_action_required_then_success_confirms_and_forgets_the_secret(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])

    assert _action_required(order)

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.PAYMENT_ACTION_REQUIRED, PaymentStatus.REQUIRES_ACTION)
    assert order.payment_action["client_secret"] == "pi_1_secret_x"
    assert order.payment_action["next_action"] == {
        "type": "redirect_to_url",
        "redirect_url": "https://bank.example/3ds/1",
    }

    send("payment.succeeded", "payments", order_id=str(order.id), payment_id="pay_1", amount="35.88", currency="EUR")

    order.refresh_from_db()
    assert (order.status, order.payment_action) == (OrderStatus.CONFIRMED, {})
    assert len(published("order.confirmed", order)) == 1


def test_an_older_attempts_news_after_a_newer_one_changes_nothing(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    _payment_failed(order, attempt=1)
    _action_required(order, attempt=2)

    # Out of order: attempt 1's failure again (another event id), after attempt 2 asked for action.
    _payment_failed(order, attempt=1)
    _action_required(order, attempt=1)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert (order.payment_status, order.payment_action["attempt"]) == (PaymentStatus.REQUIRES_ACTION, 2)
    assert order.payment_action["client_secret"] == "pi_2_secret_x"


def test_payment_news_after_cancellation_at_the_deadline_is_ignored(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    _action_required(order)
    order_cancel(order=order, reason="payment_deadline", actor="system:payment-deadline")

    _payment_failed(order, attempt=2)
    _action_required(order, attempt=2)

    order.refresh_from_db()
    assert (order.status, order.payment_action) == (OrderStatus.CANCELLED, {})


def test_payments_closing_the_attempt_at_the_time_to_pay_cancels_the_order_for_its_deadline(place_order, shopper):
    # Payments' clock may reach the time to pay before this service's sweep does: the attempt it
    # closed is the deadline, announced; the order is cancelled for it, not left waiting.
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    _action_required(order)

    _payment_failed(order, reason_code="expired")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    [cancelled] = published("order.cancelled", order)
    assert cancelled["reason"] == "payment_deadline"


def test_payment_failed_after_confirmation_is_ignored(place_order, shopper):
    order = advance_to_confirmed(place_order(shopper))

    send(
        "payment.failed",
        "payments",
        order_id=str(order.id),
        payment_id="x",
        customer_id="",
        reason_code="declined",
        message="",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    assert published("order.cancelled", order) == []


def test_a_capture_after_cancellation_is_refunded(place_order, shopper):
    # Given an order cancelled (say, timed out) while payments was still capturing
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    send("stock.rejected", "catalog", order_id=str(order.id), short=[])  # ignored: no longer pending
    order_cancel(order=order, reason="saga_timeout", actor="system")

    send(
        "payment.succeeded",
        "payments",
        order_id=str(order.id),
        payment_id="pay_1",
        amount=str(order.total),
        currency="EUR",
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    [refund] = published("refund.requested", order)
    assert Decimal(refund["amount"]) == order.total
    assert refund["restock"] == []


def test_a_short_capture_does_not_confirm(place_order, shopper):
    order = place_order(shopper)
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])

    send("payment.succeeded", "payments", order_id=str(order.id), payment_id="pay_1", amount="1.00", currency="EUR")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == "payment_mismatch"
    [refund] = published("refund.requested", order)
    assert refund["amount"] == "1.00"


def test_payment_refunded_records_the_refund(place_order, shopper):
    order = advance_to_confirmed(
        place_order(shopper, {"MUG-01": 2})
    )  # 25.00 + 4.90 + 5.98 tax (shipping taxed too) = 35.88
    refund = order_refund_request(order=order, amount=Decimal("10.00"), actor="staff:alice")

    send(
        "payment.refunded",
        "payments",
        order_id=str(order.id),
        payment_id=order.payment_id,
        refund_id=str(refund.id),
        customer_id=str(shopper.id),
        amount="10.00",
        currency="EUR",
    )
    order.refresh_from_db()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.COMPLETED
    assert order.amount_refunded == Decimal("10.00")
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert order.payment_status == PaymentStatus.PARTIALLY_REFUNDED

    # The rest, refunded at the provider directly (payments names it "provider:<id>")
    send(
        "payment.refunded",
        "payments",
        order_id=str(order.id),
        payment_id=order.payment_id,
        refund_id="provider:re_123",
        customer_id=str(shopper.id),
        amount=str(order.total - Decimal("10.00")),
        currency="EUR",
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert order.payment_status == PaymentStatus.REFUNDED
    assert order.refunds.filter(status=Refund.Status.COMPLETED).count() == 2


def test_refund_failed_frees_the_amount_again(place_order, shopper):
    order = advance_to_confirmed(place_order(shopper, {"MUG-01": 2}))
    refund = order_refund_request(order=order, lines={"MUG-01": 1}, restock=True, actor="staff:alice")
    send(
        "payment.refund_failed",
        "payments",
        order_id=str(order.id),
        payment_id=order.payment_id,
        refund_id=str(refund.id),
        customer_id=str(shopper.id),
        amount=str(refund.amount),
        currency="EUR",
        reason_code="provider_declined",
        message="no",
    )

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert order.lines.get(sku="MUG-01").quantity_refunded == 0
    # The whole capture can be refunded again
    again = order_refund_request(order=order, actor="staff:alice")
    assert again.amount == order.total


def test_events_for_unknown_orders_are_dropped_quietly():
    assert send("stock.reserved", "catalog", order_id=str(uuid.uuid4()), lines=[])
    assert published("payment.requested") == []


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("stock.reserved", {"order_id": "not-a-uuid"}),
        ("stock.rejected", {}),
        ("payment.succeeded", {"order_id": str(uuid.uuid4()), "payment_id": "p", "amount": "NaN", "currency": "EUR"}),
        ("payment.refunded", {"order_id": str(uuid.uuid4()), "refund_id": "r", "amount": "lots", "currency": "EUR"}),
    ],
)
def test_an_unusable_payload_is_dropped_not_raised(place_order, shopper, event_type, payload):
    order = place_order(shopper)

    assert send(event_type, "test", **payload) is True  # handled (recorded in the inbox), no effect

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert published("payment.requested") == []
