"""The address of the client behind a request: the one rule every throttle, lockout and request
log uses, so no value the client controls can choose it.

Each of the TRUSTED_PROXY_COUNT proxies in front of the app appends the address it received the
request from to X-Forwarded-For, so the client is that many entries from the right; anything
further left was written by the client and is ignored. With no trusted proxy (0) it is the TCP
peer, REMOTE_ADDR."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client's IP address as the trusted proxies saw it (a DRF Request works too)."""
    meta = request.META
    peer = _address(meta.get("REMOTE_ADDR", "")) or UNKNOWN
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return peer
    forwarded = [entry for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    # Fewer entries than proxies: the request skipped a proxy (or one did not append), so no
    # entry can be told apart from one the client wrote; the peer at least is not forgeable.
    if len(forwarded) < hops:
        return peer
    return _address(forwarded[-hops]) or peer
