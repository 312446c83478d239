"""The SES email backend (SES v2 SendEmail) against the moto server: Simple content for a text +
HTML message, Raw MIME otherwise, and the SES message id recorded on the delivery."""

from __future__ import annotations

import uuid

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives

from apps.core.aws import client
from apps.core.db import atomic
from apps.notifications import messages, services
from apps.notifications.backends import SESEmailBackend

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SES_BACKEND = "apps.notifications.backends.SESEmailBackend"


@pytest.fixture
def ses(moto, settings):
    settings.EMAIL_BACKEND = SES_BACKEND
    settings.DEFAULT_FROM_EMAIL = "ShopStack <shop@example.com>"
    client("sesv2").create_email_identity(EmailIdentity="example.com")
    return moto


def _spy_on_send_email(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    real = client("sesv2").send_email

    def spy(**arguments):
        calls.append(arguments)
        return real(**arguments)

    monkeypatch.setattr(client("sesv2"), "send_email", spy)
    return calls


def test_a_text_and_html_message_goes_as_simple_content(ses, monkeypatch):
    calls = _spy_on_send_email(monkeypatch)
    message = EmailMultiAlternatives("Grüße", "Hallo Ada", "ShopStack <shop@example.com>", ["Ada <ada@example.com>"])
    message.attach_alternative("<p>Hallo Ada</p>", "text/html")

    assert SESEmailBackend().send_messages([message]) == 1

    assert message.provider_message_id
    (arguments,) = calls
    simple = arguments["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Grüße"
    assert simple["Body"]["Text"]["Data"] == "Hallo Ada"
    assert simple["Body"]["Html"]["Data"] == "<p>Hallo Ada</p>"
    assert arguments["Destination"] == {"ToAddresses": ["Ada <ada@example.com>"]}


def test_a_message_with_an_attachment_goes_as_raw_mime(ses, monkeypatch):
    calls = _spy_on_send_email(monkeypatch)
    message = EmailMessage("Invoice", "Attached.", "shop@example.com", ["ada@example.com"], cc=["bo@example.com"])
    message.attach("invoice.txt", "total 12.50 EUR", "text/plain")

    assert SESEmailBackend().send_messages([message]) == 1

    (arguments,) = calls
    raw = arguments["Content"]["Raw"]["Data"].decode()
    assert "Subject: Invoice" in raw and 'filename="invoice.txt"' in raw
    assert arguments["Destination"] == {"ToAddresses": ["ada@example.com"], "CcAddresses": ["bo@example.com"]}


def test_a_delivery_records_the_ses_message_id(ses, monkeypatch):
    calls = _spy_on_send_email(monkeypatch)
    with atomic("notifications"):
        (delivery,) = services.notification_record(
            template=messages.WELCOME,
            event_id=uuid.uuid4(),
            event_type="user.registered",
            customer_id=uuid.uuid4(),
            email="ada@example.com",
            context={"first_name": "Ada"},
        )
    delivery.refresh_from_db()

    assert delivery.status == "sent"
    # The id SES returned, not the Message-ID header we generated.
    assert delivery.provider_message_id and "@" not in delivery.provider_message_id
    (arguments,) = calls
    assert "Simple" in arguments["Content"]  # our Message-ID header does not force Raw


def test_an_unverified_sender_fails_the_delivery(ses, settings):
    settings.NOTIFICATIONS_FROM_EMAIL = "shop@unverified.example.org"
    with atomic("notifications"):
        (delivery,) = services.notification_record(
            template=messages.WELCOME,
            event_id=uuid.uuid4(),
            event_type="user.registered",
            customer_id=None,
            email="ada@example.com",
        )
    delivery.refresh_from_db()

    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "MessageRejected" in delivery.last_error


def test_fail_silently_swallows_errors(ses):
    message = EmailMessage("Hi", "Body", "nobody@unverified.example.org", ["ada@example.com"])
    assert SESEmailBackend(fail_silently=True).send_messages([message]) == 0
