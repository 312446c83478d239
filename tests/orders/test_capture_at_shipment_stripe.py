"""Capture at shipment with Stripe as the provider (localstripe behind the harness's proxy, which
supplies Stripe's manual-capture fields and its release of a partial capture's rest): the
PaymentIntent is authorized at checkout (requires_capture), captured once for what shipped (the
whole order, or part of it with the rest released), cancelled when the order is; an authorization
Stripe cancelled (its 7 days passed) is flagged by the webhook or by the capture's answer. Every
capture and cancel carries an idempotency key; the money invariant holds after each."""

from __future__ import annotations

import pytest
import stripe
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.orders.errors import PaymentNotHeld
from apps.orders.models import Order, OrderStatus, PaymentStatus
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.shipments import order_close_unshipped, shipment_create
from apps.payments.models import PaymentIntent, WebhookEvent
from apps.payments.services import charges
from apps.payments.services.reconciliation import provider_reconcile
from tests.localstripe import SECRET_KEY, event_body, signed
from tests.orders.test_capture_at_shipment import _order as place
from tests.orders.test_full_saga import seed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    settings.PAYMENTS_CAPTURE_AT = "shipment"
    return live_server


def _stripe(localstripe) -> stripe.StripeClient:
    """Stripe as the shop sees it: through the proxy that supplies Stripe's capture fields."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe.proxy.endpoint}, max_network_retries=0)


def _order(localstripe, lines: dict[str, int], key: str) -> Order:
    return place(lines, token=localstripe.payment_method(), key=key)


def _payment_intent(localstripe, order: Order) -> dict:
    intent = PaymentIntent.objects.get(order_id=order.id)
    return _stripe(localstripe).v1.payment_intents.retrieve(intent.provider_charge_id).to_dict()


def _refunded_cents(localstripe, order: Order) -> int:
    pi = _payment_intent(localstripe, order)["id"]
    return sum(r.amount for r in _stripe(localstripe).v1.refunds.list(params={"payment_intent": pi}).data)


def _ship(order: Order, lines: dict[str, int] | None = None, tracking: str = "1Z001"):
    return shipment_create(order=order, carrier="UPS", tracking_number=tracking, lines=lines, actor="staff:alice")


def _cents(amount) -> int:
    return int(amount * 100)


def test_checkout_authorizes_and_the_last_parcel_captures_the_order(live_catalog, localstripe):
    seed("CAP-MUG", price="12.50", stock=5)
    seed("CAP-TEE", price="20.00", stock=5)
    order = _order(localstripe, {"CAP-MUG": 2, "CAP-TEE": 1}, "cap-1")
    assert (order.status, order.payment_status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)
    authorized = _payment_intent(localstripe, order)
    assert (authorized["status"], authorized["capture_method"]) == ("requires_capture", "manual")
    assert (authorized["amount_capturable"], authorized["amount_received"]) == (_cents(order.total), 0)
    calls_before = len(localstripe.proxy.money_calls())

    _ship(order, {"CAP-MUG": 2}, tracking="1Z001")
    assert _payment_intent(localstripe, order)["status"] == "requires_capture"  # nothing taken yet
    _ship(order, {"CAP-TEE": 1}, tracking="1Z002")

    order.refresh_from_db()
    captured = _payment_intent(localstripe, order)
    assert (order.status, order.payment_status) == (OrderStatus.SHIPPED, PaymentStatus.CAPTURED)
    assert captured["status"] == "succeeded" and captured["amount_received"] == _cents(order.total)
    assert order.amount_captured == order.total
    calls = localstripe.proxy.money_calls()[calls_before:]
    assert [(path.rsplit("/", 1)[-1], key) for _, path, key in calls] == [
        ("capture", f"capture:order-{order.id}-capture")
    ]
    call_command("check_money_invariant")


def test_closing_the_rest_captures_part_and_stripe_releases_the_rest(live_catalog, localstripe):
    seed("PART-MUG", price="12.50", stock=5)
    seed("PART-TEE", price="20.00", stock=5)
    order = _order(localstripe, {"PART-MUG": 2, "PART-TEE": 1}, "part-1")
    parcel = _ship(order, {"PART-MUG": 2})

    order_close_unshipped(order=order, actor="staff:alice")

    order.refresh_from_db()
    captured = _payment_intent(localstripe, order)
    assert captured["amount_received"] == _cents(parcel.amount) < _cents(order.total)
    assert order.amount_captured == parcel.amount
    # the released rest is no refund (the proxy hides localstripe's stand-in for it)
    assert _refunded_cents(localstripe, order) == 0
    call_command("check_money_invariant")

    # a refund of a captured line goes through Stripe and the books still agree
    refund = order_refund_request(order=order, lines={"PART-MUG": 1}, actor="staff:alice")
    assert _refunded_cents(localstripe, order) == _cents(refund.amount)
    call_command("check_money_invariant")


def test_cancelling_before_shipping_cancels_the_payment_intent(live_catalog, localstripe):
    seed("VOID-MUG", price="12.50", stock=5)
    order = _order(localstripe, {"VOID-MUG": 1}, "void-1")
    calls_before = len(localstripe.proxy.money_calls())

    order_cancel(order=order, reason="staff_cancelled", actor="staff:alice")

    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.CANCELLED, PaymentStatus.RELEASED)
    assert _payment_intent(localstripe, order)["status"] == "canceled"
    [(_, path, key)] = localstripe.proxy.money_calls()[calls_before:]
    assert path.endswith("/cancel") and key == f"cancel:order-{order.id}-release"
    call_command("check_money_invariant")


def test_an_expired_authorization_reported_by_webhook_is_flagged_and_stops_shipping(live_catalog, localstripe):
    seed("EXP-MUG", price="12.50", stock=5)
    order = _order(localstripe, {"EXP-MUG": 1}, "exp-1")
    # Stripe cancels an authorization not captured within 7 days, and says so by webhook
    pi = _payment_intent(localstripe, order)["id"]
    localstripe.client.v1.payment_intents.cancel(pi)
    body = event_body("payment_intent.canceled", _payment_intent(localstripe, order))

    answer = APIClient().post(
        "/api/v1/payments/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signed(body),
    )

    assert answer.status_code == 200, answer.content
    assert WebhookEvent.objects.get(event_type="payment_intent.canceled").outcome == "authorization_expired"
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert (intent.attention, intent.capture_status) == ("authorization_expired", "expired")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.CAPTURE_FAILED
    assert order.payment_issue.startswith("authorization_expired:")
    with pytest.raises(PaymentNotHeld):
        _ship(order)
    call_command("check_money_invariant")


def test_a_capture_stripe_refuses_because_the_authorization_expired_is_flagged(live_catalog, localstripe):
    seed("STALE-MUG", price="12.50", stock=5)
    order = _order(localstripe, {"STALE-MUG": 1}, "stale-1")
    # the expiry's webhook was lost: the capture finds out
    localstripe.client.v1.payment_intents.cancel(_payment_intent(localstripe, order)["id"])

    _ship(order)

    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert (order.payment_status, order.amount_captured) == (PaymentStatus.CAPTURE_FAILED, 0)
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert intent.attention == "authorization_expired"
    assert intent.capture_requests.get().failure_code == "authorization_expired"
    call_command("check_money_invariant")


def test_stripes_own_success_event_after_the_capture_records_nothing_twice(live_catalog, localstripe):
    seed("ECHO-MUG", price="12.50", stock=5)
    order = _order(localstripe, {"ECHO-MUG": 2}, "echo-1")
    _ship(order)
    body = event_body("payment_intent.succeeded", _payment_intent(localstripe, order))

    answer = APIClient().post(
        "/api/v1/payments/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signed(body),
    )

    assert answer.status_code == 200, answer.content
    assert WebhookEvent.objects.get(event_type="payment_intent.succeeded").outcome == "already_recorded"
    order.refresh_from_db()
    assert order.amount_captured == order.total
    call_command("check_money_invariant")


@pytest.mark.parametrize("repair", ["webhook", "reconciliation"])
def test_an_authorization_whose_answer_was_lost_confirms_the_order(
    live_catalog, localstripe, monkeypatch, settings, repair
):
    # given a checkout whose charge task reached Stripe, authorized, and died (its message lost)
    lost: list[str] = []
    monkeypatch.setattr(charges, "_enqueue_charge", lambda intent, token: lost.append(intent.idempotency_key))
    seed(f"LOST-{repair}", price="15.00", stock=2)
    token = localstripe.payment_method()
    order = place({f"LOST-{repair}": 1}, token=token, key=f"lost-{repair}")
    params = {
        "amount": _cents(order.total),
        "currency": "eur",
        "payment_method": token,
        "payment_method_types": ["card"],
        "capture_method": "manual",
        "metadata": {"shopstack_idempotency_key": lost[0]},
    }
    pi = _stripe(localstripe).v1.payment_intents.create(params={**params, "confirm": True, "off_session": True})
    assert (pi.status, Order.objects.get(pk=order.pk).status) == ("requires_capture", OrderStatus.STOCK_RESERVED)

    # when Stripe's amount_capturable_updated arrives, or the reconciliation lists the PaymentIntent
    if repair == "webhook":
        body = event_body(
            "payment_intent.amount_capturable_updated",
            _stripe(localstripe).v1.payment_intents.retrieve(pi.id).to_dict(),
        )
        answer = APIClient().post(
            "/api/v1/payments/webhooks/stripe/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signed(body),
        )
        assert answer.status_code == 200, answer.content
    else:
        settings.PAYMENTS_RECONCILE_GRACE_SECONDS = 0
        provider_reconcile()

    # then the order is confirmed on the authorization, and nothing is taken yet
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.CONFIRMED, PaymentStatus.AUTHORIZED)
    assert order.amount_captured == 0
    call_command("check_money_invariant")
