"""The channels a message leaves by, behind one small interface: `send(to=..., message=...)`
returns the provider's message id, or raises TransientSendError (worth retrying: throttling, a
network blip, a 5xx) or PermanentSendError (retrying cannot help: a rejected address, a bad
number). Email goes through Django's email backend (SES in production, see backends.py); SMS
through SNS Publish to a phone number."""

from __future__ import annotations

import smtplib
from email.utils import make_msgid
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME

from apps.core.sms import sms_publish
from apps.notifications.messages import RenderedMessage
from apps.notifications.models import Channel


class SendError(Exception):
    """A message could not be handed to the provider."""


class TransientSendError(SendError):
    """Retrying later may succeed."""


class PermanentSendError(SendError):
    """Retrying will not help; the delivery fails (staff may resend once the cause is fixed)."""


class MessageChannel(Protocol):
    name: str

    def send(self, *, to: str, message: RenderedMessage) -> str: ...


# AWS error codes meaning "slow down" or "try again": everything else in 4xx is the request's
# own fault and will fail the same way next time.
_RETRYABLE_AWS_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "LimitExceededException",  # SES: sending rate or daily quota
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)


def classify(error: Exception) -> SendError:
    """The SendError a provider or transport error amounts to."""
    description = f"{type(error).__name__}: {error}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
        if code in _RETRYABLE_AWS_CODES or status >= 500 or status == 429:
            return TransientSendError(description)
        return PermanentSendError(description)
    if isinstance(error, BotoCoreError):  # endpoint unreachable, timeouts, no credentials yet
        return TransientSendError(description)
    if isinstance(error, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)):
        return PermanentSendError(description)
    if isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600:
        return PermanentSendError(description)
    if isinstance(error, (smtplib.SMTPException, OSError)):
        return TransientSendError(description)
    return PermanentSendError(description)


class EmailChannel:
    name = Channel.EMAIL

    def send(self, *, to: str, message: RenderedMessage) -> str:
        # Our own Message-ID is the id we record when the backend reports none of its own
        # (console, SMTP); SES replaces it and the backend reports SES's id instead.
        message_id = make_msgid(domain=str(DNS_NAME))
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.NOTIFICATIONS_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={"Message-ID": message_id},
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        try:
            sent = email.send(fail_silently=False)
        except SendError:
            raise
        except Exception as error:
            raise classify(error) from error
        if not sent:
            raise PermanentSendError("The email backend accepted no message.")
        return getattr(email, "provider_message_id", None) or message_id


class SmsChannel:
    name = Channel.SMS

    def send(self, *, to: str, message: RenderedMessage) -> str:
        try:
            return sms_publish(to=to, text=message.text)
        except Exception as error:
            raise classify(error) from error


_CHANNELS: dict[str, MessageChannel] = {Channel.EMAIL: EmailChannel(), Channel.SMS: SmsChannel()}


def channel_get(name: str) -> MessageChannel:
    return _CHANNELS[name]
