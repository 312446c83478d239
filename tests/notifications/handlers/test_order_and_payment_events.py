"""Order and payment events: each renders its template for the shopper, addressed from the event's
email or, for payment events that carry none, from the local contact copy."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from apps.notifications.models import Delivery
from apps.orders.contracts import events as orders
from apps.payments.contracts import events as payments
from apps.users.contracts import events as users
from tests.notifications import events

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ORDER_URL = f"http://localhost:8000/orders/{events.ORDER_ID}"


@pytest.fixture
def shopper() -> users.UserRegistered:
    registered = events.user_registered(first_name="Ada", email="ada@example.com")
    events.published(producer="users", event_type=users.USER_REGISTERED, payload=registered)
    mail.outbox.clear()
    return registered


CASES = [
    pytest.param(
        orders.ORDER_CONFIRMED,
        "orders",
        events.order_confirmed,
        "order_confirmed",
        "Order SS-1001 confirmed",
        ["order SS-1001 is confirmed", "2 x MUG-BLUE", "1 x TEE-M", "Total: 59.80 EUR", ORDER_URL],
        id="order.confirmed",
    ),
    pytest.param(
        orders.ORDER_CANCELLED,
        "orders",
        events.order_cancelled,
        "order_cancelled",
        "Order SS-1001 has been cancelled",
        ["cancelled because some items are no longer in stock", ORDER_URL],
        id="order.cancelled",
    ),
    pytest.param(
        orders.ORDER_SHIPPED,
        "orders",
        events.order_shipped,
        "order_shipped",
        "Order SS-1001 is on its way",
        ["shipped with DHL", "Tracking number: JD014600006281230", ORDER_URL],
        id="order.shipped",
    ),
    pytest.param(
        payments.PAYMENT_FAILED,
        "payments",
        events.payment_failed,
        "payment_failed",
        "We could not take payment for your order",
        ["Your card has insufficient funds.", "Nothing has been charged", ORDER_URL],
        id="payment.failed",
    ),
    pytest.param(
        payments.PAYMENT_REFUNDED,
        "payments",
        events.payment_refunded,
        "payment_refunded",
        "Your refund of 19.90 EUR is on its way",
        ["We have refunded 19.90 EUR", ORDER_URL],
        id="payment.refunded",
    ),
]


@pytest.mark.parametrize(("event_type", "producer", "make_payload", "template", "subject", "phrases"), CASES)
def test_each_event_sends_its_email(shopper, event_type, producer, make_payload, template, subject, phrases):
    # Given a sample event of the producer's contract
    envelope = events.envelope(event_type, make_payload(shopper.customer_id), producer=producer)

    # When it reaches the notifications service
    assert events.delivered(envelope)

    # Then the shopper gets the email, logged as sent
    delivery = Delivery.objects.get(event_id=envelope.id, channel="email")
    assert (delivery.template, delivery.status, delivery.recipient) == (template, "sent", "ada@example.com")
    assert str(delivery.customer_id) == shopper.customer_id
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.subject == subject
    assert email.body.startswith("Hello Ada,")
    for phrase in phrases:
        assert phrase in email.body
    html = email.alternatives[0].content
    assert html.startswith("<!DOCTYPE html>")
    assert ORDER_URL in html
    # No SMS: the shopper never opted in.
    assert not Delivery.objects.filter(event_id=envelope.id, channel="sms").exists()


def test_an_order_event_uses_the_address_the_order_was_placed_with(shopper):
    envelope = events.envelope(
        orders.ORDER_SHIPPED,
        events.order_shipped(shopper.customer_id, email="orders@example.com"),
        producer="orders",
    )
    events.delivered(envelope)
    assert mail.outbox[0].to == ["orders@example.com"]


def test_a_payment_event_for_an_unknown_shopper_is_logged_as_skipped():
    envelope = events.envelope(
        payments.PAYMENT_REFUNDED, events.payment_refunded(str(uuid.uuid4())), producer="payments"
    )

    events.delivered(envelope)

    delivery = Delivery.objects.get(event_id=envelope.id)
    assert (delivery.status, delivery.skip_reason, delivery.attempts) == ("skipped", "no_address", 0)
    assert mail.outbox == []


def test_text_bodies_are_not_html_escaped_and_html_bodies_are(shopper):
    envelope = events.envelope(
        orders.ORDER_SHIPPED,
        events.order_shipped(shopper.customer_id, carrier="Smith & Sons <Express>"),
        producer="orders",
    )
    events.delivered(envelope)
    email = mail.outbox[0]
    assert "shipped with Smith & Sons <Express>." in email.body
    assert "Smith &amp; Sons &lt;Express&gt;" in email.alternatives[0].content


def test_the_confirmation_shows_names_line_prices_discounts_shipping_tax_and_total(shopper, settings):
    # Given a confirmed order with a discounted line, express shipping and tax, from a named shop
    settings.SHOP_NAME = "Northwind Goods"
    settings.SHOP_ADDRESS = "1 Harbour Road, Dublin D01 X2Y3, Ireland"
    payload = events.order_confirmed(
        shopper.customer_id,
        total="44.58",
        items=[
            orders.ConfirmedItem("Mug", "Blue", 2, "12.50", "2.50", "22.50"),
            orders.ConfirmedItem("Tee", "M", 1, "19.99", "0.00", "19.99"),
        ],
        subtotal="44.99",
        discount="2.50",
        shipping="4.90",
        shipping_method="Express",
        tax="7.19",
        prices_include_tax=True,
    )

    # When orders publishes it
    events.published(producer="orders", event_type=orders.ORDER_CONFIRMED, payload=payload)

    # Then the email lists the breakdown, and the shop by its name and address
    [email] = mail.outbox
    for phrase in [
        "2 x Mug (Blue): 22.50 EUR (2.50 off)",
        "1 x Tee (M): 19.99 EUR",
        "Subtotal: 44.99 EUR",
        "Discounts: -2.50 EUR",
        "Shipping (Express): 4.90 EUR",
        "Tax included: 7.19 EUR",
        "Total: 44.58 EUR",
    ]:
        assert phrase in email.body
    html = email.alternatives[0][0]
    assert "Northwind Goods" in html and "1 Harbour Road, Dublin D01 X2Y3, Ireland" in html
    assert "ShopStack" not in html


def test_a_reverse_charged_confirmation_says_so_with_the_buyers_vat_number(shopper):
    # Given an order to a business in another EU country, reverse charged
    payload = events.order_confirmed(
        shopper.customer_id,
        total="31.90",
        items=[orders.ConfirmedItem("Mug", "Blue", 2, "12.50", "0.00", "25.00")],
        subtotal="25.00",
        discount="0.00",
        shipping="6.90",
        shipping_method="Standard",
        tax="0.00",
        reverse_charge=True,
        vat_number="DE123456789",
    )

    # When orders publishes it
    events.published(producer="orders", event_type=orders.ORDER_CONFIRMED, payload=payload)

    # Then the email names the reverse charge and the number instead of a tax line
    [email] = mail.outbox
    assert "Reverse charge: VAT 0.00 EUR, to be accounted for by the customer (VAT number DE123456789)" in email.body
    assert "Tax: " not in email.body
    assert "Reverse charge" in email.alternatives[0][0] and "DE123456789" in email.alternatives[0][0]


def test_each_parcel_has_its_own_email_with_its_tracking_link_and_contents(shopper):
    # Given an order shipped in two parcels
    first, last = (
        events.envelope(
            orders.ORDER_SHIPPED,
            events.order_shipped(
                shopper.customer_id,
                shipment_id=str(uuid.uuid4()),
                parcel_number=number,
                tracking_number=f"JD{number}",
                tracking_url=f"https://track.example.com/JD{number}",
                lines=[orders.OrderLine(sku=sku, quantity=quantity)],
                complete=complete,
            ),
            producer="orders",
        )
        for number, sku, quantity, complete in ((1, "MUG-BLUE", 2, False), (2, "TEE-RED", 1, True))
    )

    events.delivered(first)
    events.delivered(last)

    # Then the shopper gets one email per parcel, each naming its parcel, contents and tracking
    assert len(mail.outbox) == 2
    one, two = (email.body for email in mail.outbox)
    assert "parcel 1 of order SS-1001 has shipped with DHL" in one
    assert "- 2 x MUG-BLUE" in one and "https://track.example.com/JD1" in one
    assert "The rest of your order follows in another parcel." in one
    assert "parcel 2 of order SS-1001" in two and "- 1 x TEE-RED" in two
    assert "follows in another parcel" not in two
    assert 'href="https://track.example.com/JD2"' in mail.outbox[1].alternatives[0].content


def test_a_payment_closed_at_its_deadline_sends_nothing_the_cancellation_says_it(shopper):
    # Payments closes an attempt the shopper never finished once the time to pay has passed; the
    # order's cancellation for its deadline is the shopper's news ("not paid in time"), not a
    # "your card was declined" after it.
    envelope = events.envelope(
        payments.PAYMENT_FAILED,
        events.payment_failed(shopper.customer_id, reason_code=payments.REASON_EXPIRED),
        producer="payments",
    )

    assert events.delivered(envelope)

    assert mail.outbox == []
    assert not Delivery.objects.filter(event_id=envelope.id).exists()
