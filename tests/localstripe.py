"""A localstripe server (a stateful fake Stripe, a development dependency) for the tests of the Stripe
provider, started once per session like the moto server; `stripe` points the provider at it for
one test. Import both fixtures into the conftest of the tests that need them.

What localstripe lacks, the harness supplies here (docs/payments.md lists what was checked
against what): it does not honour idempotency keys, so `IdempotentLocalstripe` replays the first
answer per key, as Stripe does; it sends events only to a registered URL, so the tests read its
events (GET /v1/events) and deliver them signed with the SDK's own signature helper."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import stripe

LOCALSTRIPE = Path(sys.executable).with_name("localstripe")
SECRET_KEY = "sk_test_localstripe"
WEBHOOK_SECRET = "whsec_localstripe_test_secret"
# Test cards (the numbers Stripe documents for testing; they exist only at the fake server).
CARD_VISA = "4242424242424242"
CARD_3DS_REQUIRED = "4000002760003184"
CARD_3DS_REQUIRED_ALWAYS = "4000000000003220"
CARD_DECLINED_ON_CHARGE = "4000000000000341"


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"localstripe did not start; see {log}")
        time.sleep(0.1)


@dataclass
class IdempotentLocalstripe:
    """A proxy in front of localstripe that does what Stripe does with `Idempotency-Key`: the first
    answer for a key is replayed for every later request with it. It records each request's
    method, path and key, so a test can check that every money-moving call carried one."""

    upstream: str
    endpoint: str = ""
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append((method, path, key))
            if key and key in self.answers:
                return self.answers[key]
            path, created_gte = _without_created_filter(method, path)
            if created_gte is None:
                status, answer = self._upstream(method, path, headers, body)
            else:
                status, answer = self._list_created_since(path, headers, created_gte)
            if key and status < 500:
                self.answers[key] = (status, answer)
            return status, answer

    def _list_created_since(self, path: str, headers: dict[str, str], created_gte: int) -> tuple[int, bytes]:
        """Every page of the list at localstripe, filtered, as one page."""
        items: list[dict[str, Any]] = []
        url = urllib.parse.urlsplit(path)
        query = [(name, value) for name, value in urllib.parse.parse_qsl(url.query) if name != "starting_after"]
        after: list[tuple[str, str]] = []
        while True:
            page_path = urllib.parse.urlunsplit(url._replace(query=urllib.parse.urlencode(query + after)))
            status, answer = self._upstream("GET", page_path, headers, b"")
            if status != 200:
                return status, answer
            page = json.loads(answer)
            items.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                break
            after = [("starting_after", page["data"][-1]["id"])]
        page.update(data=[item for item in items if item["created"] >= created_gte], has_more=False)
        return 200, json.dumps(page).encode()

    def _upstream(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream + path,
            data=body if method == "POST" else None,
            method=method,
            headers={
                name: value for name, value in headers.items() if name.lower() in {"authorization", "content-type"}
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def money_calls(self) -> list[tuple[str, str, str]]:
        """The POSTs that create or confirm a charge, capture, cancel or refund."""
        return [
            call
            for call in self.requests
            if call[0] == "POST" and call[1].split("?")[0].startswith(("/v1/payment_intents", "/v1/refunds"))
        ]


def _without_created_filter(method: str, path: str) -> tuple[str, int | None]:
    """localstripe lists PaymentIntents and refunds without Stripe's `created[gte]` filter: the
    proxy drops it from the query and filters the page itself."""
    url = urllib.parse.urlsplit(path)
    if method != "GET" or url.path not in ("/v1/payment_intents", "/v1/refunds"):
        return path, None
    query = urllib.parse.parse_qsl(url.query)
    created = [int(value) for name, value in query if name == "created[gte]"]
    if not created:
        return path, None
    rest = urllib.parse.urlencode([(name, value) for name, value in query if name != "created[gte]"])
    return urllib.parse.urlunsplit(url._replace(query=rest)), created[0]


def _proxy_server(proxy: IdempotentLocalstripe, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = proxy.forward(self.command, self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory) -> Iterator[IdempotentLocalstripe]:
    """localstripe on a free port, fronted by the idempotency proxy. LOCALSTRIPE_PORT fixes the
    ports instead: that one and the next for the first worker, two further on for each other."""
    base_port = int(os.environ.get("LOCALSTRIPE_PORT") or 0)
    if base_port:
        base_port += 2 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    port, proxy_port = (base_port, base_port + 1) if base_port else (_free_port(), _free_port())
    workdir = tmp_path_factory.mktemp("localstripe")
    log = workdir / "localstripe.log"
    process = subprocess.Popen(
        [str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
        cwd=workdir,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    server = None
    try:
        _wait_for(port, process, log)
        proxy = IdempotentLocalstripe(upstream=f"http://127.0.0.1:{port}")
        server = _proxy_server(proxy, proxy_port)
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
    method from a card, pass 3-D Secure or fail it) and what Stripe would send (its events)."""

    def __init__(self, proxy: IdempotentLocalstripe):
        self.proxy = proxy
        self.client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": proxy.upstream}, max_network_retries=0)

    def payment_method(self, number: str = CARD_VISA) -> str:
        card = {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
        return self.client.v1.payment_methods.create(params={"type": "card", "card": card}).id

    def authenticate(self, payment_intent_id: str, *, success: bool) -> dict[str, Any]:
        """The shopper's answer to the 3-D Secure challenge (localstripe's own endpoint)."""
        intent = self.client.v1.payment_intents.retrieve(payment_intent_id)
        data = urllib.parse.urlencode({"client_secret": intent.client_secret, "success": str(success).lower()})
        request = urllib.request.Request(
            f"{self.proxy.upstream}/v1/payment_intents/{payment_intent_id}/_authenticate",
            data=data.encode(),
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

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
