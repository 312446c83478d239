"""POST /api/v1/payments/webhooks/<provider>/: only correctly signed, fresh, never-seen provider
events are applied; everything else is a problem body and changes nothing."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.payments.models import Charge, PaymentIntent, Refund, WebhookEvent
from apps.payments.webhooks import signature_header
from tests.payments import factories
from tests.payments.helpers import all_event_types, assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/api/v1/payments/webhooks/sandbox/"


def _body(event_type: str, data: dict, *, event_id: str | None = None) -> bytes:
    event = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "created": int(time.time()), "data": data}
    return json.dumps(event).encode()


def _post(body: bytes, *, header: str | None = None, secret: str | None = None, url: str = URL):
    from django.conf import settings

    headers = {}
    if header is None:
        header = signature_header(body=body, secret=secret or settings.PAYMENTS_WEBHOOK_SECRET)
    if header:
        headers["HTTP_X_SHOPSTACK_SIGNATURE"] = header
    return APIClient().post(url, data=body, content_type="application/json", **headers)


@pytest.fixture
def captured() -> PaymentIntent:
    return factories.captured_payment(amount="30.00")


def _refund_data(intent: PaymentIntent, *, amount: str = "7.50", refund_id: str = "re_dash_1") -> dict:
    return {"charge_id": intent.provider_charge_id, "refund_id": refund_id, "amount": amount, "currency": "EUR"}


def _nothing_changed(intent: PaymentIntent) -> None:
    assert not WebhookEvent.objects.exists()
    assert not Refund.objects.exists()
    assert Charge.objects.get(intent=intent).amount_refunded == Decimal("0.00")
    assert all_event_types() == []


def test_a_refund_made_at_the_provider_is_recorded_and_announced(captured):
    response = _post(_body("charge.refunded", _refund_data(captured)))

    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "outcome": "refund_recorded"}
    refund = Refund.objects.get()
    assert (refund.source, refund.status, refund.refund_id) == ("provider", "succeeded", "provider:re_dash_1")
    assert Charge.objects.get(intent=captured).amount_refunded == Decimal("7.50")
    assert events("payment.refunded")[0]["amount"] == "7.50"
    assert WebhookEvent.objects.get().outcome == "refund_recorded"


def test_the_echo_of_a_refund_payments_made_itself_changes_nothing(captured):
    Refund.objects.create(
        refund_id="orders-refund-1",
        intent=captured,
        charge=captured.charge,
        amount=Decimal("7.50"),
        currency="EUR",
        status="succeeded",
        provider_refund_id="re_ours",
    )

    response = _post(_body("charge.refunded", _refund_data(captured, refund_id="re_ours")))

    assert response.json()["outcome"] == "already_recorded"
    assert Refund.objects.count() == 1
    assert all_event_types() == []


def test_a_tampered_body_is_refused_and_changes_nothing(captured):
    body = _body("charge.refunded", _refund_data(captured, amount="1.00"))
    header = signature_header(body=body, secret=_secret())
    tampered = body.replace(b'"1.00"', b'"30.00"')

    response = _post(tampered, header=header)

    assert_problem(response, status=401, code="webhook_signature_invalid")
    _nothing_changed(captured)


def _secret() -> str:
    from django.conf import settings

    return settings.PAYMENTS_WEBHOOK_SECRET


@pytest.mark.parametrize("header", ["", "t=123", "v1=abc", "garbage", "t=abc,v1=def"])
def test_a_missing_or_malformed_signature_is_refused(captured, header):
    body = _body("charge.refunded", _refund_data(captured))
    response = (
        _post(body, header=header) if header else APIClient().post(URL, data=body, content_type="application/json")
    )

    assert_problem(response, status=401, code="webhook_signature_invalid")
    _nothing_changed(captured)


def test_a_body_signed_with_another_secret_is_refused(captured):
    response = _post(_body("charge.refunded", _refund_data(captured)), secret="not-the-secret")

    assert_problem(response, status=401, code="webhook_signature_invalid")
    _nothing_changed(captured)


def test_a_signature_older_than_five_minutes_is_refused(captured):
    body = _body("charge.refunded", _refund_data(captured))
    header = signature_header(body=body, secret=_secret(), timestamp=int(time.time()) - 301)

    assert_problem(_post(body, header=header), status=401, code="webhook_timestamp_expired")
    _nothing_changed(captured)


def test_a_replayed_event_is_refused(captured):
    body = _body("charge.refunded", _refund_data(captured), event_id="evt_once")
    header = signature_header(body=body, secret=_secret())
    assert _post(body, header=header).status_code == 200

    # the same request again, and the same event id freshly signed
    assert_problem(_post(body, header=header), status=409, code="webhook_replayed")
    assert_problem(_post(body), status=409, code="webhook_replayed")

    assert Refund.objects.count() == 1
    assert Charge.objects.get(intent=captured).amount_refunded == Decimal("7.50")
    assert len(events("payment.refunded")) == 1


def test_an_event_about_an_unknown_charge_is_unprocessable_and_can_be_sent_again(captured):
    data = {**_refund_data(captured), "charge_id": "ch_unknown"}
    body = _body("charge.refunded", data, event_id="evt_retry")

    assert_problem(_post(body), status=422, code="webhook_unprocessable")
    assert not WebhookEvent.objects.exists()  # rolled back with the failed effect
    _nothing_changed(captured)


def test_a_refund_beyond_the_charge_is_unprocessable(captured):
    response = _post(_body("charge.refunded", _refund_data(captured, amount="30.01")))

    assert_problem(response, status=422, code="webhook_unprocessable")
    _nothing_changed(captured)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", json.dumps({"type": "charge.refunded", "data": {}}).encode()],
)
def test_a_signed_body_that_is_not_an_event_is_a_bad_request(captured, body):
    response = _post(body)

    assert response.status_code == 400
    assert response.json()["code"] in {"webhook_payload_invalid", "invalid"}
    _nothing_changed(captured)


def test_an_event_missing_data_is_a_bad_request(captured):
    response = _post(_body("charge.refunded", {"charge_id": captured.provider_charge_id}))

    assert_problem(response, status=400, code="webhook_payload_invalid")
    _nothing_changed(captured)


def test_an_unknown_provider_is_not_found(captured):
    body = _body("charge.refunded", _refund_data(captured))
    assert_problem(_post(body, url="/api/v1/payments/webhooks/stripe/"), status=404, code="webhook_provider_unknown")


def test_event_types_payments_does_not_act_on_are_acknowledged(captured):
    response = _post(_body("customer.updated", {"id": "cus_1"}))

    assert response.json() == {"received": True, "outcome": "ignored"}
    assert all_event_types() == []


def test_a_charge_failure_fails_a_pending_payment_but_not_a_final_one(captured):
    pending = PaymentIntent.objects.create(
        order_id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key="pending-key",
        provider="sandbox",
    )

    first = _post(_body("charge.failed", {"idempotency_key": "pending-key", "failure_code": "insufficient_funds"}))
    second = _post(_body("charge.failed", {"idempotency_key": captured.idempotency_key}))

    assert first.json()["outcome"] == "payment_failed"
    assert second.json()["outcome"] == "ignored_succeeded"
    pending.refresh_from_db()
    assert (pending.status, pending.failure_code) == ("failed", "insufficient_funds")
    assert [event["reason_code"] for event in events("payment.failed")] == ["insufficient_funds"]
    assert PaymentIntent.objects.get(pk=captured.pk).status == "succeeded"


def test_a_refund_payments_is_still_making_is_not_recorded_twice(captured):
    Refund.objects.create(
        refund_id="orders-refund-2", intent=captured, charge=captured.charge, amount=Decimal("7.50"), currency="EUR"
    )
    data = {**_refund_data(captured, refund_id="re_timed_out"), "idempotency_key": "orders-refund-2"}

    response = _post(_body("charge.refunded", data))

    assert response.json()["outcome"] == "already_recorded"
    assert Refund.objects.count() == 1
    assert all_event_types() == []


# --- what outside testers sent: never a 500, never a replay that was not one -------------------


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda sig: f"t=\u00b2,v1={sig}", id="superscript-digit"),
        pytest.param(lambda sig: f"t=\u0661\u0662\u0663,v1={sig}", id="arabic-indic-digits"),
        pytest.param(lambda sig: f"t={'9' * 5000},v1={sig}", id="5000-digits"),
        pytest.param(lambda sig: f"t=-1,v1={sig}", id="negative"),
        pytest.param(lambda sig: f"t=1,t=2,v1={sig}", id="two-timestamps"),
        pytest.param(lambda sig: f"t={int(time.time())},v1=" + "z" * 64, id="not-hex"),
        pytest.param(lambda sig: f"t={int(time.time())},v1={sig}," + "v1=00," * 400, id="huge-header"),
    ],
)
def test_a_malformed_signature_header_is_a_401_problem(captured, make_header):
    body = _body("charge.refunded", _refund_data(captured))
    valid = signature_header(body=body, secret=_secret()).split("v1=")[1]

    assert_problem(_post(body, header=make_header(valid)), status=401, code="webhook_signature_invalid")
    _nothing_changed(captured)


@pytest.mark.parametrize("amount", ["1e100", "1e5000", "-1e100", "10000000000.00", "NaN", "Infinity", "sNaN", True, []])
def test_a_signed_refund_with_an_amount_out_of_range_is_a_400_problem(captured, amount):
    data = {**_refund_data(captured), "amount": amount}

    assert_problem(_post(_body("charge.refunded", data)), status=400, code="webhook_payload_invalid")
    _nothing_changed(captured)


@pytest.mark.parametrize(
    "raw_amount",
    ["NaN", "Infinity", "-Infinity", "1e5000", '"7.50\\u0000"', "[" * 100 + "]" * 100],
)
def test_a_signed_body_json_cannot_keep_is_a_400_problem_not_a_replay(captured, raw_amount):
    event = _body("charge.refunded", {**_refund_data(captured), "amount": "__AMOUNT__"}, event_id="evt_new")
    body = event.replace(b'"__AMOUNT__"', raw_amount.encode())

    assert_problem(_post(body), status=400, code="webhook_payload_invalid")
    _nothing_changed(captured)
    # and the same id, well formed, is then applied: it was never received
    assert _post(_body("charge.refunded", _refund_data(captured), event_id="evt_new")).status_code == 200


def test_a_body_over_the_size_limit_is_a_413_problem(captured, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = _body("charge.refunded", {**_refund_data(captured), "note": "x" * 3000})

    assert_problem(_post(body), status=413, code="request_too_large")
    _nothing_changed(captured)
