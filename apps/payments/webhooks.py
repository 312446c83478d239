"""Provider webhook signatures: `X-Shopstack-Signature: t=<unix seconds>,v1=<hex>` where the hex
is HMAC-SHA256, under the shared webhook secret, of "<t>.<raw body>" (the scheme Stripe uses).
Several v1 values may be sent (one per secret while a secret is being rotated)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from apps.payments.errors import WebhookSignatureInvalid, WebhookTimestampExpired

SIGNATURE_HEADER = "X-Shopstack-Signature"
SCHEME = "v1"
# Strict shapes: ASCII digits only (str.isdigit takes "²", which int() refuses), a plausible
# timestamp length, and the hex digest's exact length; a few v1 values while rotating secrets.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
MAX_HEADER_LENGTH = 1024


def signature(*, body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value a provider (or a test) sends with `body`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},{SCHEME}={signature(body=body, secret=secret, timestamp=timestamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    if len(header) > MAX_HEADER_LENGTH:
        raise WebhookSignatureInvalid("The signature header is malformed.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
    if (
        len(timestamps) != 1
        or not _TIMESTAMP.fullmatch(timestamps[0])
        or not signatures
        or not all(_SIGNATURE.fullmatch(value) for value in signatures)
    ):
        raise WebhookSignatureInvalid("The signature header is malformed.")
    return int(timestamps[0]), signatures


def verify(
    *, header: str | None, body: bytes, secrets: list[str], tolerance_seconds: int, now: float | None = None
) -> int:
    """Check the signature of `body`; returns its timestamp. The signature is checked before the
    timestamp, so a forged request learns nothing about the clock window."""
    if not header:
        raise WebhookSignatureInvalid("The signature header is missing.")
    timestamp, signatures = _parse(header)
    expected = [signature(body=body, secret=secret, timestamp=timestamp) for secret in secrets if secret]
    if not any(hmac.compare_digest(candidate, wanted) for candidate in signatures for wanted in expected):
        raise WebhookSignatureInvalid()
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise WebhookTimestampExpired()
    return timestamp
