"""localstripe (a stateful fake Stripe server, a development dependency) behind a small proxy that
supplies what the shop relies on and localstripe lacks: Stripe's idempotency (the first answer per
`Idempotency-Key` replayed), the `created[gte]` filter of the PaymentIntent and refund lists, and
manual capture as Stripe does it (`amount_received` and `amount_capturable` on PaymentIntents, a
partial capture releasing the rest without a refund, no capture of a cancelled PaymentIntent).
The tests start it (tests/localstripe.py); so can the local stack:

    python -m devstack.localstripe --port 8420   # the proxy on 8420, localstripe on 8421

docs/payments.md says which behaviour was checked against localstripe and which the proxy adds."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOCALSTRIPE = Path(sys.executable).with_name("localstripe")


def wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"localstripe did not start; see {log}")
        time.sleep(0.1)


def start_localstripe(*, port: int, workdir: Path) -> subprocess.Popen:
    """localstripe on `port`, from an empty store (it pickles its store to /tmp on every write,
    and --from-scratch never reads it back)."""
    log = workdir / "localstripe.log"
    process = subprocess.Popen(
        [str(LOCALSTRIPE), "--port", str(port), "--from-scratch"],
        cwd=workdir,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    wait_for(port, process, log)
    return process


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
    # Manual capture: what each captured PaymentIntent took (minor units), and the refunds
    # localstripe makes for the released rest of a partial capture (Stripe makes none).
    captured: dict[str, int] = field(default_factory=dict)
    release_refunds: set[str] = field(default_factory=set)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append((method, path, key))
            if key and key in self.answers:
                return self.answers[key]
            path, created_gte = _without_created_filter(method, path)
            capture_of = _capture_target(method, path)
            if capture_of:
                status, answer = self._capture(capture_of, path, headers, body)
            elif created_gte is None:
                status, answer = self._upstream(method, path, headers, body)
            else:
                status, answer = self._list_created_since(path, headers, created_gte)
            answer = self._as_stripe_answers(answer)
            if key and status < 500:
                self.answers[key] = (status, answer)
            return status, answer

    def _capture(self, payment_intent: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """Stripe refuses to capture a cancelled PaymentIntent (localstripe captures it), and a
        partial capture releases the rest (localstripe refunds it: that refund is hidden)."""
        status, answer = self._upstream("GET", f"/v1/payment_intents/{payment_intent}", headers, b"")
        if status != 200:
            return status, answer
        if json.loads(answer).get("status") != "requires_capture":
            error = {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": "This PaymentIntent could not be captured because it has a status of "
                f"{json.loads(answer).get('status')}.",
            }
            return 400, json.dumps({"error": error}).encode()
        amount = int(json.loads(answer)["amount"])
        wanted = urllib.parse.parse_qs(body.decode()).get("amount_to_capture")
        before = self._refund_ids(payment_intent, headers)
        status, answer = self._upstream("POST", path, headers, body)
        if status == 200:
            self.captured[payment_intent] = int(wanted[0]) if wanted else amount
            self.release_refunds |= self._refund_ids(payment_intent, headers) - before
        return status, answer

    def _refund_ids(self, payment_intent: str, headers: dict[str, str]) -> set[str]:
        query = urllib.parse.urlencode({"payment_intent": payment_intent, "limit": 100})
        status, answer = self._upstream("GET", f"/v1/refunds?{query}", headers, b"")
        return {item["id"] for item in json.loads(answer)["data"]} if status == 200 else set()

    def _as_stripe_answers(self, answer: bytes) -> bytes:
        """Every PaymentIntent in the answer (an object, a list, an event) with Stripe's capture
        fields; refund lists without the refunds that stand for a partial capture's release."""
        try:
            document = json.loads(answer)
        except ValueError:
            return answer

        def walk(value: Any) -> Any:
            if isinstance(value, list):
                return [walk(item) for item in value if not self._is_release_refund(item)]
            if not isinstance(value, dict):
                return value
            value = {name: walk(item) for name, item in value.items()}
            if value.get("object") == "payment_intent" and "amount" in value:
                state = value.get("status")
                value["amount_capturable"] = value["amount"] if state == "requires_capture" else 0
                received = self.captured.get(value.get("id"), value["amount"])
                value["amount_received"] = received if state == "succeeded" else 0
            return value

        return json.dumps(walk(document)).encode()

    def _is_release_refund(self, item: Any) -> bool:
        return isinstance(item, dict) and item.get("object") == "refund" and item.get("id") in self.release_refunds

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
        request = urllib.request.Request(  # noqa: S310 (loopback only)
            self.upstream + path,
            data=body if method == "POST" else None,
            method=method,
            headers={
                name: value for name, value in headers.items() if name.lower() in {"authorization", "content-type"}
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback only)
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


def _capture_target(method: str, path: str) -> str:
    """The PaymentIntent a `POST /v1/payment_intents/<id>/capture` captures, else ""."""
    parts = urllib.parse.urlsplit(path).path.strip("/").split("/")
    if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "payment_intents"] and parts[3] == "capture":
        return parts[2]
    return ""


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


def proxy_server(proxy: IdempotentLocalstripe, port: int) -> ThreadingHTTPServer:
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


def main() -> None:
    parser = argparse.ArgumentParser(description="localstripe behind the idempotency proxy")
    parser.add_argument("--port", type=int, default=8420, help="the proxy's port; localstripe takes the next")
    parser.add_argument("--workdir", type=Path, default=Path.cwd())
    args = parser.parse_args()
    process = start_localstripe(port=args.port + 1, workdir=args.workdir)
    proxy = IdempotentLocalstripe(upstream=f"http://127.0.0.1:{args.port + 1}")
    server = proxy_server(proxy, args.port)
    # Stopped by SIGTERM (the stack's `down`): leave through `finally`, taking localstripe along.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
