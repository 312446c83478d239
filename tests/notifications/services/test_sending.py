"""Sending: SMS only to shoppers who opted in and verified their phone (against the moto server's
SNS), at most the day's cap to one number, one text per declined checkout; marketing messages
respect the opt-out, each delivery row is sent at most once, and failures end in a
state staff can see."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.core import mail
from django.db import connections

from apps.core import sms
from apps.core.db import atomic
from apps.core.events.envelope import to_jsonable
from apps.notifications import channels, messages, services
from apps.notifications.models import Category, Delivery, Recipient, SmsDailyCount
from apps.notifications.tasks import send_delivery
from apps.orders.contracts import events as orders
from apps.payments.contracts import events as payments
from apps.users.contracts import events as users
from tests.notifications import events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _register(**fields) -> users.UserRegistered:
    registered = events.user_registered(**{"phone_verified": True, **fields})
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    mail.outbox.clear()
    return registered


def _order_confirmed(customer_id: str):
    envelope = events.envelope(orders.ORDER_CONFIRMED, events.order_confirmed(customer_id), producer="orders")
    events.delivered(envelope)
    return envelope


# --- SMS -------------------------------------------------------------------------------------------


def test_an_opted_in_shopper_with_a_phone_gets_an_sms_through_sns(moto):
    shopper = _register(phone="+49 (30) 123-4567")
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)

    envelope = _order_confirmed(shopper.customer_id)

    sms = Delivery.objects.get(event_id=envelope.id, channel="sms")
    assert (sms.status, sms.recipient, sms.attempts) == ("sent", "+49301234567", 1)
    received = {message["message_id"]: message for message in moto.sms_messages()}
    assert sms.provider_message_id in received
    text = received[sms.provider_message_id]
    assert text["phone_number"] == "+49301234567"
    assert text["message"].startswith("ShopStack: order SS-1001 is confirmed (59.80 EUR).")
    # The email goes as well.
    assert Delivery.objects.get(event_id=envelope.id, channel="email").status == "sent"


def test_a_shopper_who_did_not_opt_in_gets_no_sms(moto):
    shopper = _register(phone="+49 30 1234567")
    before = len(moto.sms_messages())

    envelope = _order_confirmed(shopper.customer_id)

    assert list(Delivery.objects.filter(event_id=envelope.id).values_list("channel", flat=True)) == ["email"]
    assert len(moto.sms_messages()) == before


def test_an_opted_in_shopper_without_a_phone_gets_no_sms(moto):
    shopper = _register(phone="")
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)

    envelope = _order_confirmed(shopper.customer_id)

    assert list(Delivery.objects.filter(event_id=envelope.id).values_list("channel", flat=True)) == ["email"]


def test_a_phone_without_a_country_code_is_logged_as_skipped(moto):
    shopper = _register(phone="030 1234567")
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)

    envelope = _order_confirmed(shopper.customer_id)

    sms = Delivery.objects.get(event_id=envelope.id, channel="sms")
    assert (sms.status, sms.skip_reason, sms.attempts) == ("skipped", "invalid_phone", 0)


def test_opting_out_of_sms_again_stops_it(moto):
    shopper = _register()
    customer_id = uuid.UUID(shopper.customer_id)
    services.preference_update(customer_id=customer_id, sms_opt_in=True)
    services.preference_update(customer_id=customer_id, sms_opt_in=False)

    envelope = _order_confirmed(shopper.customer_id)

    assert not Delivery.objects.filter(event_id=envelope.id, channel="sms").exists()


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+49 30 1234567", "+49301234567"),
        ("0049 (30) 123-4567", "+49301234567"),
        ("+1.415.555.0100", "+14155550100"),
        ("030 1234567", None),
        ("+0 123 456789", None),
        ("", None),
    ],
)
def test_phone_numbers_are_normalized_to_e164(raw, normalized):
    assert sms.normalize_phone(raw) == normalized


def test_an_opted_in_shopper_whose_phone_is_not_verified_gets_no_sms(moto):
    shopper = _register(phone="+49 30 1234567", phone_verified=False)
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    before = len(moto.sms_messages())

    envelope = _order_confirmed(shopper.customer_id)

    assert list(Delivery.objects.filter(event_id=envelope.id).values_list("channel", flat=True)) == ["email"]
    assert len(moto.sms_messages()) == before


def test_a_phone_changed_after_verification_gets_no_sms(moto):
    shopper = _register(phone="+49 30 1234567")
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    # What users publishes when the shopper sets another number: unverified until proved.
    events.published(
        producer="users",
        event_type=users.USER_UPDATED,
        payload=events.user_updated(shopper, phone="+44 20 7946 0000", phone_verified=False),
    )

    envelope = _order_confirmed(shopper.customer_id)

    assert not Delivery.objects.filter(event_id=envelope.id, channel="sms").exists()


def test_an_event_from_before_the_verified_flag_reads_as_unverified(moto):
    shopper = events.user_registered()
    payload = {key: value for key, value in to_jsonable(shopper).items() if key != "phone_verified"}
    assert events.delivered(events.envelope(users.USER_REGISTERED, payload, producer="users"))

    assert Recipient.objects.get(customer_id=shopper.customer_id).phone_verified is False


def test_a_number_gets_at_most_the_daily_cap_of_texts_whichever_shoppers_they_are_for(moto, settings):
    settings.NOTIFICATIONS_SMS_DAILY_CAP = 2
    shoppers = [_register(phone="+49 30 1234567", email=f"s{n}@example.com") for n in range(2)]
    for shopper in shoppers:
        services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    before = len(moto.sms_messages())

    envelopes = [_order_confirmed(shopper.customer_id) for shopper in shoppers * 2]

    statuses = [Delivery.objects.get(event_id=envelope.id, channel="sms").status for envelope in envelopes]
    assert statuses == ["sent", "sent", "skipped", "skipped"]
    assert Delivery.objects.get(event_id=envelopes[2].id, channel="sms").skip_reason == "sms_daily_cap"
    assert len(moto.sms_messages()) == before + 2
    # The emails still go.
    assert set(Delivery.objects.filter(channel="email").values_list("status", flat=True)) == {"sent"}


def test_a_redelivered_event_does_not_count_against_the_cap_twice(moto, settings):
    settings.NOTIFICATIONS_SMS_DAILY_CAP = 2
    shopper = _register()
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    envelope = _order_confirmed(shopper.customer_id)

    services.notification_record(
        template=messages.ORDER_CONFIRMED,
        event_id=envelope.id,
        event_type=envelope.type,
        customer_id=uuid.UUID(shopper.customer_id),
    )

    assert SmsDailyCount.objects.get(phone="+49301234567").count == 1


def test_the_daily_cap_holds_under_concurrent_events(moto, settings):
    settings.NOTIFICATIONS_SMS_DAILY_CAP = 3
    shopper = _register()
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def record() -> None:
        try:
            barrier.wait()
            services.notification_record(
                template=messages.ORDER_SHIPPED,
                event_id=uuid.uuid4(),
                event_type=orders.ORDER_SHIPPED,
                customer_id=uuid.UUID(shopper.customer_id),
                context={"order_number": "SS-1"},
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sms_rows = Delivery.objects.filter(channel="sms", template=messages.ORDER_SHIPPED)
    assert sms_rows.exclude(skip_reason="sms_daily_cap").count() == 3
    assert SmsDailyCount.objects.get(phone="+49301234567").count == 3


def test_a_declined_checkout_sends_one_text(moto):
    shopper = _register()
    services.preference_update(customer_id=uuid.UUID(shopper.customer_id), sms_opt_in=True)
    before = len(moto.sms_messages())

    # What a declined card produces: payments' payment.failed, then orders' order.cancelled.
    failed = events.envelope(payments.PAYMENT_FAILED, events.payment_failed(shopper.customer_id), producer="payments")
    cancelled = events.envelope(
        orders.ORDER_CANCELLED,
        events.order_cancelled(shopper.customer_id, reason="payment_failed:declined"),
        producer="orders",
    )
    events.delivered(failed)
    events.delivered(cancelled)

    texts = moto.sms_messages()[before:]
    assert len(texts) == 1
    assert "could not take payment" in texts[0]["message"]


# --- Marketing vs transactional ----------------------------------------------------------------


@pytest.fixture
def marketing_welcome(monkeypatch):
    """The welcome message as if it were marketing (no marketing template exists yet)."""
    monkeypatch.setitem(
        messages.TEMPLATES, messages.WELCOME, messages.MessageTemplate(messages.WELCOME, category=Category.MARKETING)
    )


def _welcome(customer_id: uuid.UUID | None = None) -> Delivery:
    """The welcome message's delivery, recorded (and sent) in the caller's transaction."""
    (delivery,) = services.notification_record(
        template=messages.WELCOME,
        event_id=uuid.uuid4(),
        event_type="test.event",
        customer_id=customer_id,
        email="ada@example.com",
    )
    return delivery


def _record_welcome(customer_id: uuid.UUID) -> Delivery:
    with atomic("notifications"):
        delivery = _welcome(customer_id)
    delivery.refresh_from_db()
    return delivery


def test_a_marketing_message_to_an_opted_out_shopper_is_skipped(marketing_welcome):
    customer_id = uuid.uuid4()
    services.preference_update(customer_id=customer_id, marketing_opt_out=True)

    delivery = _record_welcome(customer_id)

    assert (delivery.category, delivery.status, delivery.skip_reason) == ("marketing", "skipped", "marketing_opt_out")
    assert mail.outbox == []


def test_a_marketing_message_to_a_shopper_who_did_not_opt_out_is_sent(marketing_welcome):
    delivery = _record_welcome(uuid.uuid4())

    assert (delivery.category, delivery.status) == ("marketing", "sent")
    assert len(mail.outbox) == 1


def test_transactional_messages_go_despite_a_marketing_opt_out(moto):
    shopper = _register()
    customer_id = uuid.UUID(shopper.customer_id)
    services.preference_update(customer_id=customer_id, marketing_opt_out=True, sms_opt_in=True)

    envelope = _order_confirmed(shopper.customer_id)

    assert set(Delivery.objects.filter(event_id=envelope.id).values_list("channel", "status")) == {
        ("email", "sent"),
        ("sms", "sent"),
    }


# --- Exactly once per row, and failures ---------------------------------------------------------


def _pending(**fields) -> Delivery:
    values = {
        "event_id": uuid.uuid4(),
        "event_type": "test.event",
        "channel": "email",
        "template": messages.WELCOME,
        "recipient": "ada@example.com",
        "context": {"first_name": "Ada"},
        **fields,
    }
    return Delivery.objects.create(**values)


def test_sending_a_row_twice_sends_once():
    delivery = _pending()

    services.delivery_send(delivery_id=delivery.id)
    services.delivery_send(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert len(mail.outbox) == 1


def test_two_workers_sending_one_row_at_once_send_it_once(monkeypatch):
    delivery = _pending()
    sends = []

    def slow_send(self, *, to, message):
        sends.append(to)
        time.sleep(0.3)  # long enough for the second worker to reach the lock meanwhile
        return f"id-{len(sends)}"

    monkeypatch.setattr(channels.EmailChannel, "send", slow_send)

    def worker():
        try:
            services.delivery_send(delivery_id=delivery.id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    delivery.refresh_from_db()
    assert sends == ["ada@example.com"]
    assert (delivery.status, delivery.attempts, delivery.provider_message_id) == ("sent", 1, "id-1")


def test_a_permanent_failure_fails_the_delivery_at_once(settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.RefusingBackend"

    with atomic("notifications"):
        services.notification_record(
            template=messages.WELCOME,
            event_id=uuid.uuid4(),
            event_type="test.event",
            customer_id=None,
            email="ada@example.com",
        )

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "SMTPRecipientsRefused" in delivery.last_error
    assert not delivery.provider_message_id


def test_a_transient_failure_is_retried_then_fails_after_the_last_attempt(settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.UnreachableBackend"

    with atomic("notifications"):
        services.notification_record(
            template=messages.WELCOME,
            event_id=uuid.uuid4(),
            event_type="test.event",
            customer_id=None,
            email="ada@example.com",
        )

    delivery = Delivery.objects.get()
    # One attempt and send_delivery's max_retries more, each recorded.
    assert (delivery.status, delivery.attempts) == ("failed", send_delivery.max_retries + 1)
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_transient_failure_keeps_the_row_pending_for_the_retry(settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.UnreachableBackend"
    delivery = _pending()

    with pytest.raises(channels.TransientSendError):
        services.delivery_send(delivery_id=delivery.id, final_attempt=False)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "connection refused" in delivery.last_error


def test_the_first_send_runs_in_the_recording_transaction_without_a_task(settings, monkeypatch):
    settings.TASKS_RUN_IN_PROCESS = False
    queued = []
    monkeypatch.setattr(send_delivery, "apply_async", lambda **options: queued.append(options))

    with atomic("notifications"):
        _welcome()

    assert (Delivery.objects.get().status, len(mail.outbox), queued) == ("sent", 1, [])


def test_with_a_broker_a_transient_first_send_is_queued_as_retry_one_after_commit(settings, monkeypatch):
    settings.TASKS_RUN_IN_PROCESS = False
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.UnreachableBackend"
    queued = []
    monkeypatch.setattr(send_delivery, "apply_async", lambda **options: queued.append(options))

    with atomic("notifications"):
        _welcome()
        assert queued == []  # nothing leaves before the commit

    delivery = Delivery.objects.get()
    [options] = queued
    assert (options["kwargs"], options["retries"]) == ({"delivery_id": str(delivery.id)}, 1)
    assert 0 <= options["countdown"] <= 2
    assert (delivery.status, delivery.attempts) == ("pending", 1)


def test_a_row_whose_template_cannot_render_fails_instead_of_staying_pending():
    delivery = _pending(template="no_such_template")

    services.delivery_send(delivery_id=delivery.id)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "LookupError" in delivery.last_error
    assert mail.outbox == []
