"""A localstripe server (a stateful fake Stripe) behind the proxy of devstack/localstripe.py, started
once per session like the moto server; `localstripe` points the Stripe provider at it for one test
(tests/conftest.py registers both fixtures).

What localstripe lacks, the harness supplies (docs/payments.md lists what was checked against
what): the proxy replays the first answer per idempotency key and filters lists by creation
time; localstripe sends events only to a registered URL, so the tests read its events (GET
/v1/events), or build the ones it never makes around its objects, and deliver them signed with
the SDK's own signature helper."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import stripe

from devstack.localstripe import IdempotentLocalstripe, proxy_server, start_localstripe

SECRET_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_test_secret"
# Test cards (the numbers Stripe documents for testing; they exist only at the fake server).
CARD_VISA = "4242424242424242"
CARD_3DS_REQUIRED = "4000002760003184"
CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory) -> Iterator[IdempotentLocalstripe]:
    """localstripe on a free port, fronted by the idempotency proxy. LOCALSTRIPE_PORT fixes the
    ports instead: that one and the next for the first worker, two further on for each other."""
    base_port = int(os.environ.get("LOCALSTRIPE_PORT") or 0)
    if base_port:
        base_port += 2 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    port, proxy_port = (base_port, base_port + 1) if base_port else (_free_port(), _free_port())
    process = start_localstripe(port=port, workdir=tmp_path_factory.mktemp("localstripe"))
    server = None
    try:
        proxy = IdempotentLocalstripe(upstream=f"http://127.0.0.1:{port}")
        server = proxy_server(proxy, proxy_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        proxy.endpoint = f"http://127.0.0.1:{proxy_port}"
        yield proxy
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        process.terminate()
        process.wait(timeout=10)


class Localstripe:
    """What a test does at the fake Stripe: what the shopper's browser would (make a payment
    method from a card) and what Stripe would send (its events)."""

    def __init__(self, proxy: IdempotentLocalstripe):
        self.proxy = proxy
        self.client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": proxy.upstream}, max_network_retries=0)

    def payment_method(self, number: str = CARD_VISA) -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        return self.client.v1.payment_methods.create(params={"type": "card", "card": card}).id

    def authenticate(self, payment_intent: str, client_secret: str, *, success: bool = True) -> None:
        """What the shopper does at the bank's 3-D Secure page (localstripe's own call for it)."""
        form = urllib.parse.urlencode({"client_secret": client_secret, "success": "true" if success else "false"})
        request = urllib.request.Request(
            f"{self.proxy.upstream}/v1/payment_intents/{payment_intent}/_authenticate",
            data=form.encode(),
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def event_for(self, event_type: str, object_id: str) -> bytes:
        """The body of the event localstripe made itself (it would send it to a registered URL),
        for one object."""
        events = self.client.v1.events.list(params={"type": event_type, "limit": 100}).data
        matching = [event.to_dict() for event in events if event.to_dict()["data"]["object"]["id"] == object_id]
        assert len(matching) == 1, f"localstripe made {len(matching)} {event_type} events for {object_id}"
        return json.dumps(matching[0]).encode()


def event_body(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """An event shaped as Stripe sends it, around an object read from localstripe."""
    event = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def signed(body: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send with `body`, made by the SDK's own helper."""
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)


@pytest.fixture
def localstripe(localstripe_server, settings) -> Localstripe:
    """The Stripe provider, configured for this test against localstripe (through the proxy)."""
    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_API_BASE = localstripe_server.endpoint
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return Localstripe(localstripe_server)
