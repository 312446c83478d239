"""boto3 clients whose endpoints come from settings, so the same code talks to the moto server
locally and to AWS in production (AWS_ENDPOINT_URL, or AWS_<SERVICE>_ENDPOINT_URL per client)."""

from __future__ import annotations

import string
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from django.conf import settings

# urllib.parse.quote_plus's output for each byte (letters, digits and "_.-~" kept, a space as
# "+", anything else %XX), as a str.translate table over the UTF-8 bytes read as Latin-1.
_SAFE = frozenset((string.ascii_letters + string.digits + "_.-~").encode())
_FORM_QUOTE = {byte: "+" if byte == 0x20 else f"%{byte:02X}" for byte in range(256) if byte not in _SAFE}


def form_quote(value: str) -> str:
    """urllib.parse.quote_plus(value), in C: the same text, without a Python call per byte."""
    return value.encode().decode("latin-1").translate(_FORM_QUOTE)


def form_encode_body(request: Any, **_: Any) -> None:
    """Encode a query-protocol request's parameters (SNS) as botocore would, but once.

    botocore url-encodes the parameters each time the request is prepared (for the signature, then
    to send it) with urllib's quote_plus, a Python call per byte: for an SNS Publish of a task
    message, more CPU than the rest of the call. The body is the same bytes either way."""
    data = request.data
    if isinstance(data, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        request.data = "&".join(f"{form_quote(key)}={form_quote(value)}" for key, value in data.items())


@cache
def client(service_name: str, *, fast_fail: bool = False):
    """A cached boto3 client. `fast_fail` is for calls on a request's path (the outbox relay after
    commit): short timeouts, no retries, because the periodic sweep is the retry."""
    endpoint = getattr(settings, f"AWS_{service_name.upper()}_ENDPOINT_URL", None) or settings.AWS_ENDPOINT_URL
    config = (
        Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
        if fast_fail
        else Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 4, "mode": "standard"})
    )
    made = boto3.client(
        service_name,
        region_name=settings.AWS_REGION,
        endpoint_url=endpoint,
        config=config,
    )
    if made.meta.service_model.protocol == "query":
        # Before the signer, which prepares the body first.
        made.meta.events.register_first(f"request-created.{made.meta.service_model.endpoint_prefix}", form_encode_body)
    return made
