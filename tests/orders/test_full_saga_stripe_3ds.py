"""3-D Secure over Stripe (localstripe behind the harness's proxy), the whole saga in one process:
authenticated and confirmed whether the shopper's return or the webhook comes first, or both at
once (one confirmation); authentication failed, then paid with another card (the first
PaymentIntent cancelled at Stripe, the second under its own key); webhooks repeated and out of
order; an attempt paid after another one was, refunded at once; an authentication left past the
deadline closed at Stripe by the reconciliation.

localstripe answers a 3-D Secure card (4000002760003184) with requires_action and authenticates
through its own `_authenticate` call; the proxy (devstack/localstripe.py) keeps the return URL,
shapes the answer as Stripe's redirect and serves the bank's page. The webhooks are localstripe's
own events where it makes them (payment_intent.succeeded) and built around its objects otherwise."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone
from rest_framework.test import APIClient

from apps.orders.models import Order, OrderStatus
from apps.orders.models import OutboxEvent as OrdersOutbox
from apps.orders.services.saga import orders_expire_stalled
from apps.orders.services.shipments import shipment_create
from apps.payments.models import OutboxEvent as PaymentsOutbox
from apps.payments.models import PaymentIntent
from apps.payments.services.attempts import payment_return
from apps.payments.services.provider_webhooks import webhook_receive
from apps.payments.services.reconciliation import provider_reconcile
from tests.localstripe import CARD_3DS_REQUIRED, CARD_VISA, event_body, signed
from tests.orders.test_capture_at_shipment_stripe import _stripe
from tests.orders.test_full_saga import _checkout, seed
from tests.orders.test_full_saga_stripe import _cart

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
WEBHOOK = "/api/v1/payments/webhooks/stripe/"


@pytest.fixture
def live_catalog(live_server, settings):
    settings.CATALOG_API_URL = live_server.url
    settings.CATALOG_API_ATTEMPTS = 1
    return live_server


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _bank(redirect_url: str, *, success: bool = True) -> str:
    """The shopper at the bank's 3-D Secure page: where the bank sends them back."""
    url = f"{redirect_url}&success={'true' if success else 'false'}"
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(url, timeout=10)
    assert redirect.value.code == 302
    return redirect.value.headers["Location"]


def _return(location: str) -> dict:
    parts = urllib.parse.urlsplit(location)
    answer = APIClient().get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200, answer.json()
    return answer.json()


def _webhook(body: bytes):
    return APIClient().post(WEBHOOK, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body))


def _waiting_order(localstripe, sku: str, key: str) -> tuple[APIClient, dict]:
    seed(sku, price="18.00", stock=2)
    client = _cart(sku)
    response = _checkout(client, localstripe.payment_method(CARD_3DS_REQUIRED), key)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == OrderStatus.PAYMENT_ACTION_REQUIRED
    assert body["payment"]["next_action"]["type"] == "redirect_to_url"
    return client, body


def _confirmations(order_id: str) -> tuple[int, int]:
    """payment.succeeded published by payments, order.confirmed by orders, for the order."""
    succeeded = [
        e for e in PaymentsOutbox.objects.filter(event_type="payment.succeeded") if e.payload["order_id"] == order_id
    ]
    confirmed = [
        e for e in OrdersOutbox.objects.filter(event_type="order.confirmed") if e.payload["order_id"] == order_id
    ]
    return len(succeeded), len(confirmed)


def test_3ds_authenticated_return_first_then_webhook(live_catalog, localstripe):
    _, body = _waiting_order(localstripe, "S3DS-MUG", "s3ds-1")
    intent = PaymentIntent.objects.get(order_id=body["id"])
    assert intent.status == PaymentIntent.Status.REQUIRES_ACTION
    # The return URL given to Stripe, and no off-session charge.
    calls = [call for call in localstripe.proxy.money_calls() if call[1] == "/v1/payment_intents"]
    assert calls[-1][2] == f"charge:order-{body['id']}-payment"

    returned = _return(_bank(body["payment"]["next_action"]["redirect_url"]))

    assert returned["status"] == "succeeded"
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    # Stripe's own webhook afterwards: recorded already, nothing announced again.
    answer = _webhook(localstripe.event_for("payment_intent.succeeded", intent.provider_intent_id))
    assert answer.status_code == 200 and answer.json()["outcome"] == "already_recorded"
    assert _confirmations(body["id"]) == (1, 1)


def test_3ds_authenticated_webhook_first_then_return(live_catalog, localstripe):
    _, body = _waiting_order(localstripe, "S3DS-CUP", "s3ds-2")
    intent = PaymentIntent.objects.get(order_id=body["id"])
    back = _bank(body["payment"]["next_action"]["redirect_url"])

    event = localstripe.event_for("payment_intent.succeeded", intent.provider_intent_id)
    assert _webhook(event).json()["outcome"] == "payment_succeeded"
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    assert _webhook(event).status_code == 409  # the same event again: a replay

    assert _return(back)["status"] == "succeeded"
    assert _confirmations(body["id"]) == (1, 1)


def test_return_and_webhook_racing_confirm_once(live_catalog, localstripe):
    _, body = _waiting_order(localstripe, "S3DS-PEN", "s3ds-3")
    intent = PaymentIntent.objects.get(order_id=body["id"])
    location = _bank(body["payment"]["next_action"]["redirect_url"])
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    parsed = json.loads(localstripe.event_for("payment_intent.succeeded", intent.provider_intent_id))
    errors = _at_once(
        lambda: payment_return(
            payment_intent=query["payment_intent"], client_secret=query["payment_intent_client_secret"]
        ),
        lambda: webhook_receive(
            provider="stripe",
            event_id=parsed["id"],
            event_type=parsed["type"],
            data=parsed["data"],
            payload=parsed,
        ),
        timeout=30,
    )

    assert errors == []
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    assert _confirmations(body["id"]) == (1, 1)


def test_3ds_failed_then_another_card_confirms(live_catalog, localstripe):
    client, body = _waiting_order(localstripe, "S3DS-TEE", "s3ds-4")
    first = PaymentIntent.objects.get(order_id=body["id"]).provider_intent_id

    returned = _return(_bank(body["payment"]["next_action"]["redirect_url"], success=False))

    assert (returned["status"], returned["failure_code"]) == ("failed", "payment_intent_authentication_failure")
    order = client.get(f"/api/v1/orders/{body['id']}/").json()
    assert (order["status"], order["payment"]["reason_code"]) == ("payment_action_required", "authentication_failed")
    # localstripe makes no event for a failed authentication: Stripe's, built around its object,
    # late and twice, changes nothing more.
    first_object = localstripe.client.v1.payment_intents.retrieve(first).to_dict()
    failed = event_body("payment_intent.payment_failed", first_object)
    assert _webhook(failed).json()["outcome"] == "ignored_failed"

    retry = client.post(order["payment"]["retry_url"], {"payment_method_token": localstripe.payment_method(CARD_VISA)})

    assert retry.status_code == 200, retry.json()
    assert retry.json()["status"] == "succeeded"
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    # The first PaymentIntent is cancelled at Stripe; the second went under the attempt's key.
    assert localstripe.client.v1.payment_intents.retrieve(first).status == "canceled"
    keys = [call[2] for call in localstripe.proxy.money_calls()]
    assert f"charge:order-{body['id']}-payment-2" in keys
    assert f"abandon:{first}" in keys
    # Its cancellation's webhook, and the stale failure again, change nothing.
    canceled = event_body("payment_intent.canceled", localstripe.client.v1.payment_intents.retrieve(first).to_dict())
    assert _webhook(canceled).json()["outcome"] == "ignored_succeeded"
    assert _webhook(failed).status_code == 409  # the same event: a replay
    again = event_body("payment_intent.payment_failed", first_object)  # Stripe's retry, a new id
    assert _webhook(again).json()["outcome"] == "ignored_succeeded"
    assert _confirmations(body["id"]) == (1, 1)


def test_an_attempt_paid_after_another_one_was_is_refunded_at_once(live_catalog, localstripe, monkeypatch):
    # given an order waiting for 3-D Secure whose shopper pays again with another card while
    # Stripe cannot cancel the first PaymentIntent (its cancel call fails)...
    from apps.payments.providers import ProviderError
    from apps.payments.providers.stripe import StripeProvider

    def cancel_fails(self, *, charge_id, idempotency_key=""):
        raise ProviderError("Stripe is unreachable.", code="provider_unavailable")

    client, body = _waiting_order(localstripe, "S3DS-HAT", "s3ds-5")
    first = PaymentIntent.objects.get(order_id=body["id"]).provider_intent_id
    monkeypatch.setattr(StripeProvider, "cancel", cancel_fails)
    retry = client.post(
        f"/api/v1/payments/orders/{body['id']}/attempts/", {"payment_method_token": localstripe.payment_method()}
    )
    assert retry.json()["status"] == "succeeded"
    second = PaymentIntent.objects.get(order_id=body["id"]).provider_charge_id
    assert second != first
    # ...and the shopper, in another tab, completes the first one's authentication after all
    _bank(body["payment"]["next_action"]["redirect_url"])

    # when Stripe's success of the first one arrives
    answer = _webhook(localstripe.event_for("payment_intent.succeeded", first))

    # then that money goes back at once; the order is confirmed once, for one payment
    assert answer.json()["outcome"] == "duplicate_refunded"
    intent = PaymentIntent.objects.get(order_id=body["id"])
    assert (intent.attention, intent.provider_charge_id) == (PaymentIntent.Attention.DUPLICATE_PAYMENT, second)
    refunds = localstripe.client.v1.refunds.list(params={"payment_intent": first}).data
    assert [refund.amount for refund in refunds] == [localstripe.client.v1.payment_intents.retrieve(first).amount]
    assert _confirmations(body["id"]) == (1, 1)


def test_the_reconciliation_closes_at_stripe_an_authentication_left_past_the_deadline(live_catalog, localstripe):
    # given an order whose shopper never came back from 3-D Secure, cancelled at its deadline
    _, body = _waiting_order(localstripe, "S3DS-BOX", "s3ds-6")
    order = Order.objects.get(pk=body["id"])
    orders_expire_stalled(now=order.payment_deadline)
    PaymentIntent.objects.filter(order_id=order.id).update(pay_by=timezone.now() - timedelta(seconds=1))
    pi = PaymentIntent.objects.get(order_id=order.id).provider_intent_id

    # when the reconciliation runs
    provider_reconcile()

    # then the PaymentIntent is cancelled at Stripe (nobody can pay it any more) and the payment failed
    assert localstripe.client.v1.payment_intents.retrieve(pi).status == "canceled"
    intent = PaymentIntent.objects.get(order_id=order.id)
    assert (intent.status, intent.failure_code) == (PaymentIntent.Status.FAILED, "expired")
    assert Order.objects.get(pk=order.id).status == OrderStatus.CANCELLED
    # announced as the deadline's, which the shopper is not emailed about again (the order's
    # cancellation told them), never as a declined card
    [failed] = [
        e.payload
        for e in PaymentsOutbox.objects.filter(event_type="payment.failed")
        if e.payload["order_id"] == str(order.id)
    ]
    assert failed["reason_code"] == "expired"


def _capturable(localstripe, pi: str) -> dict:
    """The PaymentIntent as the shop reads it: through the proxy, which adds Stripe's
    amount_capturable (localstripe has no such field)."""
    return _stripe(localstripe).v1.payment_intents.retrieve(pi).to_dict()


def _published(order_id: str, event_type: str) -> int:
    return sum(1 for e in PaymentsOutbox.objects.filter(event_type=event_type) if e.payload["order_id"] == order_id)


def _authorized_twice(localstripe, monkeypatch, settings, sku: str, key: str) -> tuple[dict, str, str]:
    """Capture at shipment: an order waiting for 3-D Secure whose shopper pays again with another
    card (authorized: the order is confirmed) while Stripe cannot cancel the first PaymentIntent,
    and who then completes the first one's authentication in another tab. Returns the order's
    checkout answer and the two PaymentIntents (the first, the one payments recorded)."""
    from apps.payments.providers import ProviderError
    from apps.payments.providers.stripe import StripeProvider

    def cancel_fails(self, *, charge_id, idempotency_key=""):
        raise ProviderError("Stripe is unreachable.", code="provider_unavailable")

    settings.PAYMENTS_CAPTURE_AT = "shipment"
    settings.PAYMENTS_RECONCILE_GRACE_SECONDS = 0
    client, body = _waiting_order(localstripe, sku, key)
    first = PaymentIntent.objects.get(order_id=body["id"]).provider_intent_id
    monkeypatch.setattr(StripeProvider, "cancel", cancel_fails)
    retry = client.post(
        f"/api/v1/payments/orders/{body['id']}/attempts/", {"payment_method_token": localstripe.payment_method()}
    )
    monkeypatch.undo()
    assert retry.status_code == 200 and retry.json()["status"] == "succeeded", retry.json()
    second = PaymentIntent.objects.get(order_id=body["id"]).provider_charge_id
    assert second != first and _capturable(localstripe, second)["status"] == "requires_capture"
    assert Order.objects.get(pk=body["id"]).payment_status == "authorized"
    _bank(body["payment"]["next_action"]["redirect_url"])
    assert _capturable(localstripe, first)["status"] == "requires_capture"
    return body, first, second


def _only_the_recorded_authorization_is_held(localstripe, body: dict, first: str, second: str) -> None:
    assert _capturable(localstripe, first)["status"] == "canceled"
    assert _capturable(localstripe, second)["status"] == "requires_capture"
    cancels = [key for _, path, key in localstripe.proxy.money_calls() if path == f"/v1/payment_intents/{first}/cancel"]
    assert set(cancels) == {f"cancel:duplicate-{first}"}  # one key: Stripe replays the first cancel
    intent = PaymentIntent.objects.get(order_id=body["id"])
    assert (intent.attention, intent.provider_charge_id, intent.capture_status) == (
        PaymentIntent.Attention.DUPLICATE_PAYMENT,
        second,
        PaymentIntent.CaptureStatus.AUTHORIZED,
    )
    assert first in intent.attention_detail
    assert (_published(body["id"], "payment.authorized"), _published(body["id"], "payment.capture_failed")) == (1, 0)


def test_with_capture_at_shipment_an_attempt_authorized_after_another_one_was_is_released(
    live_catalog, localstripe, monkeypatch, settings
):
    body, first, second = _authorized_twice(localstripe, monkeypatch, settings, "S3DS-AUTH", "s3ds-7")

    # when Stripe says the first one is authorized too (and says it again, as Stripe retries)
    first_authorized = _capturable(localstripe, first)
    authorized = [_webhook(event_body("payment_intent.amount_capturable_updated", first_authorized)) for _ in range(2)]

    # then that authorization is let go at once, never captured, and staff see the flag
    assert [answer.json()["outcome"] for answer in authorized] == ["duplicate_released"] * 2
    _only_the_recorded_authorization_is_held(localstripe, body, first, second)
    # the cancellation's echo and the reconciliation take it for no expiry of the order's own
    canceled = _webhook(event_body("payment_intent.canceled", _capturable(localstripe, first)))
    assert canceled.json()["outcome"] == "ignored_succeeded"
    provider_reconcile()
    _only_the_recorded_authorization_is_held(localstripe, body, first, second)
    # and the order ships, captured once, from the authorization that stands
    order = Order.objects.get(pk=body["id"])
    assert (order.status, order.payment_status) == (OrderStatus.CONFIRMED, "authorized")
    shipment_create(order=order, carrier="UPS", tracking_number="1Z007", lines=None, actor="staff:alice")
    assert _capturable(localstripe, second)["status"] == "succeeded"
    assert _capturable(localstripe, first)["status"] == "canceled"
    assert Order.objects.get(pk=body["id"]).amount_captured == order.total
    call_command("check_money_invariant")


def test_a_duplicate_authorization_reported_twice_at_once_is_released_once(
    live_catalog, localstripe, monkeypatch, settings
):
    body, first, second = _authorized_twice(localstripe, monkeypatch, settings, "S3DS-RACE", "s3ds-8")
    event = json.loads(event_body("payment_intent.amount_capturable_updated", _capturable(localstripe, first)))

    def report() -> None:
        webhook_receive(
            provider="stripe", event_id=event["id"], event_type=event["type"], data=event["data"], payload=event
        )

    # Stripe's event and the reconciliation (which lists the PaymentIntent) at the same moment
    errors = _at_once(report, provider_reconcile, timeout=60)

    assert errors == []
    _only_the_recorded_authorization_is_held(localstripe, body, first, second)
    assert Order.objects.get(pk=body["id"]).status == OrderStatus.CONFIRMED
    call_command("check_money_invariant")


def test_with_capture_at_shipment_an_earlier_attempt_authorized_closes_the_open_one(
    live_catalog, localstripe, monkeypatch, settings
):
    # given capture at shipment, an order whose shopper gave up the first 3-D Secure for another
    # card that needs it too, while Stripe could not cancel the first PaymentIntent...
    from apps.payments.providers import ProviderError
    from apps.payments.providers.stripe import StripeProvider

    def cancel_fails(self, *, charge_id, idempotency_key=""):
        raise ProviderError("Stripe is unreachable.", code="provider_unavailable")

    settings.PAYMENTS_CAPTURE_AT = "shipment"
    client, body = _waiting_order(localstripe, "S3DS-OPEN", "s3ds-9")
    first = PaymentIntent.objects.get(order_id=body["id"]).provider_intent_id
    monkeypatch.setattr(StripeProvider, "cancel", cancel_fails)
    retry = client.post(
        f"/api/v1/payments/orders/{body['id']}/attempts/",
        {"payment_method_token": localstripe.payment_method(CARD_3DS_REQUIRED)},
    )
    monkeypatch.undo()
    assert retry.status_code == 200 and retry.json()["status"] == "requires_action", retry.json()
    second = PaymentIntent.objects.get(order_id=body["id"]).provider_intent_id
    # ...and who completes the first one's authentication after all
    _bank(body["payment"]["next_action"]["redirect_url"])

    # when Stripe says the first one is authorized
    answer = _webhook(event_body("payment_intent.amount_capturable_updated", _capturable(localstripe, first)))

    # then the order stands on it, and the open second attempt is cancelled: nobody completes it
    assert answer.json()["outcome"] == "payment_authorized"
    intent = PaymentIntent.objects.get(order_id=body["id"])
    assert (intent.provider_charge_id, intent.capture_status, intent.attention) == (first, "authorized", "")
    assert _capturable(localstripe, second)["status"] == "canceled"
    assert Order.objects.get(pk=body["id"]).payment_status == "authorized"
    # its cancellation's echo is no expiry of the authorization that stands
    canceled = _webhook(event_body("payment_intent.canceled", _capturable(localstripe, second)))
    assert canceled.json()["outcome"] == "ignored_succeeded"
    assert PaymentIntent.objects.get(order_id=body["id"]).capture_status == "authorized"


def _at_once(*calls, timeout: float) -> list[BaseException]:
    """Run `calls` in threads released together; the errors they raised (each thread closes its
    own database connections)."""
    start = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call) -> None:
        try:
            start.wait(timeout=10)
            call()
        except BaseException as error:  # reported to the caller
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors
