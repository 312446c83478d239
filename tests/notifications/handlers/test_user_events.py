"""User events: the welcome email (once, however often the event arrives), the password reset
email with its link, and the local copy of each shopper's contact details."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from apps.core.db import atomic
from apps.core.events.handlers import deliver
from apps.notifications.models import Delivery, Recipient
from apps.notifications.services import notification_record
from apps.users.contracts import events as users
from tests.notifications import events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_registration_sends_one_welcome_email_even_when_the_event_arrives_twice():
    # Given a shopper registers (the users service publishes user.registered)
    registered = events.user_registered(first_name="Ada", email="ada@example.com")
    envelope = events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)

    # When the very same envelope is delivered again, twice (at-least-once delivery)
    assert deliver("notifications", envelope) is False
    assert deliver("notifications", envelope) is False

    # Then exactly one welcome email was logged and sent
    delivery = Delivery.objects.get(event_id=envelope.id)
    assert (delivery.template, delivery.channel, delivery.status) == ("welcome", "email", "sent")
    assert delivery.recipient == "ada@example.com"
    assert delivery.attempts == 1
    assert delivery.provider_message_id
    assert delivery.subject == "Welcome to ShopStack, Ada"
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert email.subject == "Welcome to ShopStack, Ada"
    assert "Hello Ada" in email.body
    assert email.alternatives[0].mimetype == "text/html"
    assert email.extra_headers["Message-ID"] == delivery.provider_message_id


def test_recording_the_same_event_twice_records_one_delivery():
    # The inbox already de-duplicates; the unique (event, channel) holds even without it.
    customer_id, event_id = uuid.uuid4(), uuid.uuid4()
    for _ in range(2):
        with atomic("notifications"):
            notification_record(
                template="welcome",
                event_id=event_id,
                event_type=users.USER_REGISTERED,
                customer_id=customer_id,
                email="once@example.com",
            )
    assert Delivery.objects.filter(event_id=event_id).count() == 1
    assert len(mail.outbox) == 1


def test_a_handler_rolled_back_after_its_send_keeps_no_row_and_sends_again_when_redelivered():
    # The send is made in the handler's transaction (at least once, like the send task before it):
    # a rollback after it leaves no row, and the redelivered event records and sends it again.
    class Boom(Exception):
        pass

    event_id, customer_id = uuid.uuid4(), uuid.uuid4()

    def record() -> None:
        notification_record(
            template="welcome",
            event_id=event_id,
            event_type=users.USER_REGISTERED,
            customer_id=customer_id,
            email="again@example.com",
        )

    with pytest.raises(Boom), atomic("notifications"):
        record()
        raise Boom
    assert not Delivery.objects.exists()

    with atomic("notifications"):
        record()

    assert Delivery.objects.get().status == "sent"
    assert [message.to for message in mail.outbox] == [["again@example.com"], ["again@example.com"]]


def test_password_reset_email_carries_the_link_and_the_log_keeps_no_copy_of_it():
    registered = events.user_registered()
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    reset = events.password_reset_requested(
        registered.customer_id, reset_url="http://localhost:8000/reset-password?token=abc123-secret"
    )

    envelope = events.published(producer="users", event_type=users.PASSWORD_RESET_REQUESTED, payload=reset)

    assert "abc123-secret" not in str(envelope.to_dict())
    delivery = Delivery.objects.get(event_id=envelope.id)
    assert (delivery.template, delivery.status, delivery.recipient) == ("password_reset", "sent", "ada@example.com")
    email = mail.outbox[-1]
    assert email.subject == "Reset your ShopStack password"
    assert "http://localhost:8000/reset-password?token=abc123-secret" in email.body
    assert 'href="http://localhost:8000/reset-password?token=abc123-secret"' in email.alternatives[0].content
    # Once sent, the delivery log no longer holds a working reset link.
    assert "abc123-secret" not in str(delivery.context)
    # Never by SMS, whatever the shopper chose.
    assert not Delivery.objects.filter(event_id=envelope.id, channel="sms").exists()


def test_a_pending_password_reset_delivery_keeps_the_link_sealed(settings):
    registered = events.user_registered()
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    reset = events.password_reset_requested(registered.customer_id, reset_url="http://shop/reset?token=pending-secret")
    # Sealed under a key this service no longer holds: the send fails, and the row stays behind.
    settings.EVENT_SEALING_KEYS = ["a-key-notifications-does-not-hold-" + "x" * 8]
    envelope = events.envelope(users.PASSWORD_RESET_REQUESTED, reset, producer="users")
    settings.EVENT_SEALING_KEYS = ["the-key-notifications-holds-now-" + "y" * 8]

    events.delivered(envelope)

    delivery = Delivery.objects.get(event_id=envelope.id)
    assert delivery.status == "failed" and "UnsealError" in delivery.last_error
    assert "pending-secret" not in str(delivery.context) + delivery.last_error
    assert [email.subject for email in mail.outbox] == ["Welcome to ShopStack, Ada"]


def test_user_events_keep_the_contact_copy_current_and_ignore_stale_ones():
    registered = events.user_registered(email="old@example.com", phone="+49 30 1111111")
    customer_id = uuid.UUID(registered.customer_id)
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    assert Recipient.objects.get(customer_id=customer_id).email == "old@example.com"

    now = datetime.now(UTC)
    newer = events.envelope(
        users.USER_UPDATED,
        events.user_updated(registered, email="new@example.com", first_name="Augusta"),
        producer="users",
        occurred_at=now + timedelta(minutes=1),
    )
    older = events.envelope(
        users.USER_UPDATED,
        events.user_updated(registered, email="stale@example.com"),
        producer="users",
        occurred_at=now - timedelta(minutes=1),
    )
    # The newer update arrives first; the older one arrives late and must not win.
    assert events.delivered(newer)
    assert events.delivered(older)

    recipient = Recipient.objects.get(customer_id=customer_id)
    assert (recipient.email, recipient.first_name) == ("new@example.com", "Augusta")
    # An update sends nothing by itself.
    assert Delivery.objects.count() == 1  # the welcome email


def test_a_payload_missing_a_field_fails_the_handler_and_records_nothing():
    envelope = events.envelope(users.USER_REGISTERED, {"customer_id": str(uuid.uuid4())}, producer="users")
    with pytest.raises(ValueError, match="lacks"):
        events.delivered(envelope)
    assert not Delivery.objects.exists()
    assert mail.outbox == []
