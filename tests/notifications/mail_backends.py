"""Email backends that fail, for the notifications tests' failure paths."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """The provider rejects the recipient: retrying cannot help."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"mailbox unavailable")})


class UnreachableBackend(BaseEmailBackend):
    """The provider cannot be reached: worth retrying."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("connection refused")
