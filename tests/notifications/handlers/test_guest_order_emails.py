"""Guest orders' emails (version 2 events, customer_id None): they go to the order's address and
link to the order page with the order's access token, which arrives sealed, is opened only to
render the email and is gone from the delivery log once sent. A shopper's order links without a
token. And the email verification link, sealed the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from apps.core.events import Envelope
from apps.core.events.envelope import to_jsonable
from apps.core.sealing import seal
from apps.notifications.models import Delivery
from apps.orders.contracts import events as orders
from apps.payments.contracts import events as payments
from apps.users.contracts import events as users
from tests.notifications import events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ORDER_URL = f"http://localhost:8000/orders/{events.ORDER_ID}"
TOKEN = f"{events.ORDER_ID}:1kxyzA:guest-s3cret-signature"
GUEST_EMAIL = "guest@example.com"


def guest_envelope(event_type: str, payload, *, producer: str = "orders") -> Envelope:
    return Envelope(
        type=event_type,
        producer=producer,
        payload=to_jsonable(payload),
        trace_id=uuid.uuid4().hex,
        version=orders.GUEST_VERSION,
        occurred_at=datetime.now(UTC),
    )


GUEST_EVENTS = {
    "order_confirmed": (orders.ORDER_CONFIRMED, events.order_confirmed),
    "order_cancelled": (orders.ORDER_CANCELLED, events.order_cancelled),
    "order_shipped": (orders.ORDER_SHIPPED, events.order_shipped),
}


@pytest.mark.parametrize("template", sorted(GUEST_EVENTS))
def test_a_guest_orders_email_links_the_order_page_with_its_token(template):
    event_type, build = GUEST_EVENTS[template]
    payload = build(None, email=GUEST_EMAIL, sealed_access_token=seal(TOKEN))
    envelope = guest_envelope(event_type, payload)
    assert TOKEN not in str(envelope.to_dict())  # the event holds the token sealed only

    assert events.delivered(envelope)

    [delivery] = Delivery.objects.filter(event_id=envelope.id)
    assert (delivery.template, delivery.channel, delivery.status) == (template, "email", "sent")
    assert delivery.recipient == GUEST_EMAIL and delivery.customer_id is None
    [email] = mail.outbox
    assert email.to == [GUEST_EMAIL]
    assert f"{ORDER_URL}?token={TOKEN}" in email.body
    assert f'href="{ORDER_URL}?token={TOKEN}"' in email.alternatives[0].content
    # Once sent, the delivery log keeps no working link.
    assert "guest-s3cret-signature" not in str(delivery.context)


def test_a_shoppers_order_email_links_the_page_without_a_token():
    customer_id = str(uuid.uuid4())
    registered = events.user_registered(customer_id=customer_id)
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    envelope = events.envelope(orders.ORDER_CONFIRMED, events.order_confirmed(customer_id), producer="orders")

    assert events.delivered(envelope)

    email = mail.outbox[-1]
    assert f"Follow your order: {ORDER_URL}\n" in email.body
    assert "token=" not in email.body


def test_a_guest_payment_failure_is_recorded_without_an_address():
    # Payments knows no email: the guest hears of it through order.cancelled, which follows.
    envelope = guest_envelope(payments.PAYMENT_FAILED, events.payment_failed(None), producer="payments")

    assert events.delivered(envelope)

    delivery = Delivery.objects.get(event_id=envelope.id)
    assert (delivery.status, delivery.skip_reason, delivery.customer_id) == ("skipped", "no_address", None)
    assert mail.outbox == []


def test_the_email_verification_link_arrives_sealed_and_leaves_no_trace():
    url = "http://localhost:8000/verify-email?token=verify-s3cret"
    payload = users.EmailVerificationRequested(
        customer_id=str(uuid.uuid4()),
        email="ada@example.com",
        first_name="Ada",
        sealed_verify_url=seal(url),
        expires_at=(datetime.now(UTC) + timedelta(days=7)).isoformat(),
    )
    envelope = events.envelope(users.EMAIL_VERIFICATION_REQUESTED, payload, producer="users")
    assert "verify-s3cret" not in str(envelope.to_dict())

    assert events.delivered(envelope)

    delivery = Delivery.objects.get(event_id=envelope.id)
    assert (delivery.template, delivery.status, delivery.recipient) == ("email_verification", "sent", "ada@example.com")
    [email] = mail.outbox
    assert email.subject == "Confirm your email address for ShopStack"
    assert url in email.body and f'href="{url}"' in email.alternatives[0].content
    assert "verify-s3cret" not in str(delivery.context)
