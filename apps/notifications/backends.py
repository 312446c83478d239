"""Amazon SES as a Django email backend (SES v2 SendEmail), so every email the project sends
goes the same way and the provider's message id is recorded.

Select it with EMAIL_BACKEND=apps.notifications.backends.SESEmailBackend. The client comes from
apps.core.aws.client("sesv2"): credentials from the task role, endpoint from AWS_SESV2_ENDPOINT_URL
or AWS_ENDPOINT_URL (the moto server locally). A message with only a text body and an HTML
alternative is sent as Simple content; anything else (attachments, other headers) as Raw MIME.
After a send each message carries the SES id as `message.provider_message_id`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import sanitize_address

from apps.core.aws import client

logger = logging.getLogger(__name__)

# Headers SES sets itself, so their presence does not force a Raw message.
_SES_OWNED_HEADERS = frozenset({"message-id", "date"})


class SESEmailBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, *, configuration_set: str | None = None, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.configuration_set = configuration_set or getattr(settings, "NOTIFICATIONS_SES_CONFIGURATION_SET", "")

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            try:
                message_id = self._send(message)
            except Exception:
                if not self.fail_silently:
                    raise
                logger.warning("SES send failed", exc_info=True)
                continue
            if message_id is not None:
                message.provider_message_id = message_id  # type: ignore[attr-defined]
                sent += 1
        return sent

    def _send(self, message: EmailMessage) -> str | None:
        if not message.recipients():
            return None
        encoding = message.encoding or settings.DEFAULT_CHARSET
        arguments: dict[str, Any] = {
            "FromEmailAddress": sanitize_address(message.from_email, encoding),
            "Destination": {
                key: [sanitize_address(address, encoding) for address in addresses]
                for key, addresses in (
                    ("ToAddresses", message.to),
                    ("CcAddresses", message.cc),
                    ("BccAddresses", message.bcc),
                )
                if addresses
            },
            "Content": self._simple_content(message) or {"Raw": {"Data": message.message().as_bytes(linesep="\r\n")}},
        }
        if message.reply_to:
            arguments["ReplyToAddresses"] = [sanitize_address(address, encoding) for address in message.reply_to]
        if self.configuration_set:
            arguments["ConfigurationSetName"] = self.configuration_set
        return client("sesv2").send_email(**arguments)["MessageId"]

    @staticmethod
    def _simple_content(message: EmailMessage) -> dict[str, Any] | None:
        """SES Simple content when the message fits it (text, optionally one HTML alternative,
        no attachments, no headers of its own); None when it needs Raw MIME."""
        if message.attachments or set(map(str.lower, message.extra_headers)) - _SES_OWNED_HEADERS:
            return None
        if message.content_subtype not in {"plain", "html"}:
            return None
        alternatives = list(getattr(message, "alternatives", []) if isinstance(message, EmailMultiAlternatives) else [])
        charset = "UTF-8"
        body: dict[str, Any] = {}
        body["Html" if message.content_subtype == "html" else "Text"] = {"Data": message.body, "Charset": charset}
        for content, mimetype in alternatives:
            if mimetype != "text/html" or "Html" in body:
                return None
            body["Html"] = {"Data": content, "Charset": charset}
        return {"Simple": {"Subject": {"Data": message.subject, "Charset": charset}, "Body": body}}
