"""Sealing a secret that must travel inside an event (a password reset link): authenticated
encryption (Fernet: AES-128-CBC with HMAC-SHA256) under EVENT_SEALING_KEYS, which only the
producer and the consumer that needs the secret hold. An outbox row, an SNS or SQS message, a
delivery row or a backup of any of them keeps only the sealed text."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class UnsealError(Exception):
    """The sealed text was tampered with, or sealed under a key this process does not hold."""


def _fernet() -> MultiFernet:
    # Any string of 32+ random characters is a key (hashed to Fernet's 32 bytes); the first seals,
    # all of them open, so a key is rotated by putting the new one first and dropping the old one
    # once nothing sealed under it is still waiting (the reset link lifetime, or a DLQ's).
    keys = [
        Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"shopstack-event-sealing:" + key.encode()).digest()))
        for key in settings.EVENT_SEALING_KEYS
    ]
    if not keys:
        raise UnsealError("EVENT_SEALING_KEYS is empty.")
    return MultiFernet(keys)


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnsealError("The sealed value cannot be opened with the configured keys.") from error
