"""localstripe (a stateful fake Stripe server, a development dependency) behind a small proxy that
supplies what the shop relies on and localstripe lacks: Stripe's idempotency (the first answer per
`Idempotency-Key` replayed), the `created[gte]` filter of the PaymentIntent and refund lists, and
manual capture as Stripe does it (`amount_received` and `amount_capturable` on PaymentIntents, a
partial capture releasing the rest without a refund, no capture of a cancelled PaymentIntent), and
3-D Secure with a return URL (localstripe refuses `return_url` and answers `use_stripe_sdk`; the
proxy keeps the URL, answers Stripe's `redirect_to_url` shape, and serves the bank's page at
/_shopstack/3ds/<pi>?client_secret=...&success=true|false, which authenticates at localstripe and
sends the shopper on to the return URL as Stripe does).
The tests start it (tests/localstripe.py); so does the local stack (scripts/stack):

    python -m devstack.localstripe --port 8420   # the proxy on 8420, localstripe on 8421
    python -m devstack.localstripe --port 8420 --webhook-url URL --webhook-secret whsec_...

With a webhook URL, the proxy also stands where Stripe's event delivery stands:
- localstripe's own events (it signs them under the secret; it makes `payment_intent.succeeded`
  and `payment_intent.payment_failed`) reach it at /_harness/webhooks and are passed on verbatim;
- the events localstripe never makes and Stripe does (`charge.refunded` after a refund,
  `payment_intent.canceled` after a cancellation, `payment_intent.requires_action` when a
  confirmation needs 3-D Secure, `payment_intent.payment_failed` after failed authentication)
  are built here around localstripe's objects and signed with the SDK's own helper, as Stripe
  would send them.
Tests steer the faults of a real provider through /_harness/faults (see `Faults`).

docs/payments.md says which behaviour was checked against localstripe and which the proxy adds."""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from contextlib import closing
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import stripe

LOCALSTRIPE = Path(sys.executable).with_name("localstripe")
# The API version of the events the proxy builds (the provider's pinned one).
EVENT_API_VERSION = "2026-10-28.endive"
HARNESS = "/_harness/"
WEBHOOK_RELAY = "/_harness/webhooks"
FAULTS = "/_harness/faults"
# Stripe's answer when it cannot answer (the SDK reads it as an APIError: transient for the shop).
UNAVAILABLE = json.dumps({"error": {"type": "api_error", "message": "Stripe is unavailable (localstripe harness)."}})
_CANCEL = re.compile(r"/v1/payment_intents/pi_\w+/cancel")
_CONFIRMS = re.compile(r"/v1/payment_intents(/pi_\w+/confirm)?")
_AUTHENTICATE = re.compile(r"/v1/payment_intents/pi_\w+/_authenticate")


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
class Faults:
    """What a test asks the proxy to do wrong, as a real Stripe (or the network to it) can:

    transient        {payment method id: n}: a PaymentIntent with that method meets n 503s per
                     idempotency key before it reaches localstripe (Stripe briefly down).
    lose_answers     every new PaymentIntent reaches localstripe (the money is taken) but its
                     answer is lost: the shop gets a 503 after `answer_delay` seconds, for its
                     retries too while this holds, and its webhooks are dropped (unless
                     `lose_webhooks` is false: then they come before the answer).
    drop_webhooks    events about these object ids are not delivered.
    What happened is reported back: `lost` (idempotency key: PaymentIntent id, while the rules
    hold), and for the whole run `dropped`
    (event ids), `relayed` (event id: the shop's answer, {"status", "outcome"}), `emitted` (the events the proxy
    built, event id: "<type> <object id>")."""

    transient: dict[str, int] = field(default_factory=dict)
    lose_answers: bool = False
    lose_webhooks: bool = True
    answer_delay: float = 1.0
    drop_webhooks: list[str] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    relayed: dict[str, dict[str, Any]] = field(default_factory=dict)
    emitted: dict[str, str] = field(default_factory=dict)

    RULES = ("transient", "lose_answers", "lose_webhooks", "answer_delay", "drop_webhooks")

    def update(self, changes: dict[str, Any]) -> None:
        for name in self.RULES:
            if name in changes:
                setattr(self, name, changes[name])

    def clear_rules(self) -> None:
        """Stripe behaves again (the answers lost so far are replayed); the run's report stays."""
        self.update({name: getattr(Faults(), name) for name in self.RULES})
        self.lost = {}


@dataclass
class IdempotentLocalstripe:
    """A proxy in front of localstripe that does what Stripe does with `Idempotency-Key`: the first
    answer for a key is replayed for every later request with it. It records each request's
    method, path and key, so a test can check that every money-moving call carried one."""

    upstream: str
    endpoint: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    transient_seen: Counter = field(default_factory=Counter)
    # PaymentIntent id -> the return URL its creation named (localstripe does not take one).
    return_urls: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Manual capture: what each captured PaymentIntent took (minor units), and the refunds
    # localstripe makes for the released rest of a partial capture (Stripe makes none).
    captured: dict[str, int] = field(default_factory=dict)
    release_refunds: set[str] = field(default_factory=set)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        key = headers.get("Idempotency-Key", "")
        creates = method == "POST" and path.split("?")[0] == "/v1/payment_intents"
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace"))) if creates else {}
        with self.lock:
            self.requests.append((method, path, key))
            failures = self.faults.transient.get(form.get("payment_method", ""), 0)
            if creates and key and self.transient_seen[key] < failures:
                self.transient_seen[key] += 1
                return 503, UNAVAILABLE.encode()
            replayed = bool(key) and key in self.answers
            if replayed:
                status, answer = self.answers[key]
            else:
                status, answer = self._answer(method, path, headers, body)
                if key and status < 500:
                    self.answers[key] = (status, answer)
            lost = creates and key and (self.faults.lose_answers and (not replayed or key in self.faults.lost))
            if lost and status < 500:
                self.faults.lost.setdefault(key, str(json.loads(answer).get("id") or ""))
        if lost:
            time.sleep(self.faults.answer_delay)  # outside the lock: Stripe slow for this call only
            return 503, UNAVAILABLE.encode()
        if not replayed and status == 200:
            self._emit_after(method, path, json.loads(answer), headers)
        return status, answer

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        path, created_gte = _without_created_filter(method, path)
        body, return_url = _without_return_url(method, path, body)
        capture_of = _capture_target(method, path)
        if capture_of:
            status, answer = self._capture(capture_of, path, headers, body)
        elif created_gte is None:
            status, answer = self._upstream(method, path, headers, body)
        else:
            status, answer = self._list_created_since(path, headers, created_gte)
        return status, self._with_redirect(self._as_stripe_answers(answer), return_url)

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

    def _with_redirect(self, answer: bytes, return_url: str) -> bytes:
        """A PaymentIntent waiting for 3-D Secure as Stripe shapes it when a return URL was given:
        next_action redirect_to_url, to the proxy's bank page."""
        try:
            obj = json.loads(answer)
        except ValueError:
            return answer
        if not isinstance(obj, dict) or obj.get("object") != "payment_intent":
            return answer
        if return_url:
            self.return_urls[obj["id"]] = return_url
        return_url = self.return_urls.get(obj["id"], "")
        if obj.get("status") != "requires_action" or not return_url:
            return answer
        query = urllib.parse.urlencode({"client_secret": obj["client_secret"]})
        obj["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": f"{self.endpoint}/_shopstack/3ds/{obj['id']}?{query}", "return_url": return_url},
        }
        return json.dumps(obj).encode()

    def authenticate(self, path: str) -> tuple[int, str]:
        """The bank's 3-D Secure page: authenticate at localstripe (success=true|false), then the
        redirect to the return URL with Stripe's parameters; (status, Location)."""
        url = urllib.parse.urlsplit(path)
        intent_id = url.path.rsplit("/", 1)[-1]
        query = dict(urllib.parse.parse_qsl(url.query))
        form = urllib.parse.urlencode(
            {"client_secret": query.get("client_secret", ""), "success": query.get("success", "true")}
        ).encode()
        headers = {"Authorization": "Bearer sk_test_localstripe", "Content-Type": "application/x-www-form-urlencoded"}
        # Through forward(): the events Stripe sends about the authentication follow from it.
        status, _ = self.forward("POST", f"/v1/payment_intents/{intent_id}/_authenticate", headers, form)
        with self.lock:
            return_url = self.return_urls.get(intent_id, "")
        if status != 200 or not return_url:
            return 404, ""
        back = urllib.parse.urlencode(
            {
                "payment_intent": intent_id,
                "payment_intent_client_secret": query.get("client_secret", ""),
                "redirect_status": "succeeded" if query.get("success", "true") == "true" else "failed",
            }
        )
        return 302, f"{return_url}{'&' if '?' in return_url else '?'}{back}"

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

    # --- Events: Stripe's delivery, localstripe's events relayed, the missing ones built here ---

    def _emit_after(self, method: str, path: str, answer: dict[str, Any], headers: dict[str, str]) -> None:
        """The event Stripe sends after this call and localstripe does not (none for most calls)."""
        if not self.webhook_url or method != "POST":
            return
        route = path.split("?")[0]
        if route == "/v1/refunds" and answer.get("charge"):
            status, charge = self._upstream("GET", f"/v1/charges/{answer['charge']}", headers, b"")
            if status == 200:
                self._send_later("charge.refunded", json.loads(charge))
        elif _CANCEL.fullmatch(route):
            self._send_later("payment_intent.canceled", answer)
        elif _CONFIRMS.fullmatch(route) and answer.get("status") == "requires_action":
            self._send_later("payment_intent.requires_action", answer)
        elif _AUTHENTICATE.fullmatch(route) and answer.get("status") == "requires_payment_method":
            # The shopper failed 3-D Secure (localstripe's test page): Stripe reports the failure.
            self._send_later("payment_intent.payment_failed", answer)

    def _send_later(self, event_type: str, obj: dict[str, Any]) -> None:
        event = {
            "id": f"evt_harness_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "api_version": EVENT_API_VERSION,
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": obj},
        }
        body = json.dumps(event).encode()
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), self.webhook_secret)
        with self.lock:
            self.faults.emitted[event["id"]] = f"{event_type} {obj.get('id')}"
        # As Stripe (and localstripe) do: after the answer, not within it.
        threading.Timer(1.0, self.deliver, args=(body, header)).start()

    def deliver(self, body: bytes, signature: str) -> int:
        """One event to the shop's endpoint, unless a fault drops it; the shop's status."""
        event = json.loads(body)
        about = str(((event.get("data") or {}).get("object") or {}).get("id") or "")
        with self.lock:
            lost = self.faults.lose_answers and self.faults.lose_webhooks and about in self.faults.lost.values()
            if about in self.faults.drop_webhooks or lost:
                self.faults.dropped.append(str(event.get("id")))
                return 200
        request = urllib.request.Request(  # noqa: S310 (loopback only)
            self.webhook_url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (loopback only)
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        except OSError:
            status, answer = 503, b""
        try:
            said = json.loads(answer)
        except ValueError:
            said = {}
        outcome = str(said.get("outcome") or said.get("code") or "") if isinstance(said, dict) else ""
        with self.lock:
            self.faults.relayed[str(event.get("id"))] = {"status": status, "outcome": outcome}
        return status

    def harness(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """The proxy's own endpoints: localstripe's event delivery, and the faults."""
        route = path.split("?")[0]
        if route == WEBHOOK_RELAY and method == "POST":
            return self.deliver(body, headers.get("Stripe-Signature", "")), b"{}"
        if route == FAULTS:
            with self.lock:
                if method == "POST":
                    self.faults.update(json.loads(body or b"{}"))
                elif method == "DELETE":
                    self.faults.clear_rules()
                    self.transient_seen.clear()
                return 200, json.dumps(asdict(self.faults)).encode()
        missing = {"error": {"type": "invalid_request_error", "message": "No such harness path."}}
        return 404, json.dumps(missing).encode()

    def register_webhook(self) -> None:
        """localstripe sends its events, signed under the endpoint's secret, to the relay."""
        data = urllib.parse.urlencode({"url": self.endpoint + WEBHOOK_RELAY, "secret": self.webhook_secret}).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback only)
            f"{self.upstream}/_config/webhooks/shopstack", data=data, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback only)
            pass


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


def _without_return_url(method: str, path: str, body: bytes) -> tuple[bytes, str]:
    """localstripe refuses `return_url` on a PaymentIntent's creation: the proxy keeps it."""
    if method != "POST" or urllib.parse.urlsplit(path).path != "/v1/payment_intents" or b"return_url" not in body:
        return body, ""
    fields = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
    return_url = next((value for name, value in fields if name == "return_url"), "")
    rest = urllib.parse.urlencode([(name, value) for name, value in fields if name != "return_url"])
    return rest.encode(), return_url


def proxy_server(proxy: IdempotentLocalstripe, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            if self.path.startswith("/_shopstack/3ds/"):
                status, location = proxy.authenticate(self.path)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            if self.path.startswith(HARNESS):
                status, answer = proxy.harness(self.command, self.path, headers, body)
            else:
                status, answer = proxy.forward(self.command, self.path, headers, body)
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
    parser.add_argument("--webhook-url", default="", help="the shop's Stripe webhook endpoint")
    parser.add_argument("--webhook-secret", default="", help="its signing secret (whsec_...)")
    args = parser.parse_args()
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    process = start_localstripe(port=args.port + 1, workdir=args.workdir)
    proxy = IdempotentLocalstripe(
        upstream=f"http://127.0.0.1:{args.port + 1}",
        endpoint=f"http://127.0.0.1:{args.port}",
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    server = proxy_server(proxy, args.port)
    if args.webhook_url:
        proxy.register_webhook()
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
