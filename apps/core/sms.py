"""SMS to a phone number through SNS Publish, and the E.164 form numbers are sent to. Shared by
notifications (order texts) and users (phone verification codes, which must not travel in an
event: see apps/users/services/phone.py)."""

from __future__ import annotations

import re

from django.conf import settings

from apps.core.aws import client

# Separators people type in phone numbers; what remains must be E.164 (+ and 8 to 15 digits).
_PHONE_SEPARATORS = re.compile(r"[\s().\-/]")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


def normalize_phone(raw: str) -> str | None:
    """The E.164 form SNS needs, or None when the number has no country code we can trust."""
    phone = _PHONE_SEPARATORS.sub("", raw or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    return phone if _E164.match(phone) else None


def sms_publish(*, to: str, text: str) -> str:
    """Hand one text to SNS; returns its message id. Errors are boto's, for the caller to classify."""
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": settings.SMS_TYPE}}
    if settings.SMS_SENDER_ID:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": settings.SMS_SENDER_ID}
    response = client("sns").publish(PhoneNumber=to, Message=text, MessageAttributes=attributes)
    return response["MessageId"]
