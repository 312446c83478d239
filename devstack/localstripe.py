"""localstripe (a stateful fake Stripe server, a development dependency) behind a small proxy that
supplies what the shop relies on and localstripe lacks: Stripe's idempotency (the first answer per
`Idempotency-Key` replayed), the `created[gte]` filter of the PaymentIntent and refund lists, and
3-D Secure with a return URL (localstripe refuses `return_url` and answers `use_stripe_sdk`; the
proxy keeps the URL, answers Stripe's `redirect_to_url` shape, and serves the bank's page at
/_shopstack/3ds/<pi>?client_secret=...&success=true|false, which authenticates at localstripe and
sends the shopper on to the return URL as Stripe does).
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
    # PaymentIntent id -> the return URL its creation named (localstripe does not take one).
    return_urls: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests.append((method, path, key))
            if key and key in self.answers:
                return self.answers[key]
            path, created_gte = _without_created_filter(method, path)
            body, return_url = _without_return_url(method, path, body)
            if created_gte is None:
                status, answer = self._upstream(method, path, headers, body)
            else:
                status, answer = self._list_created_since(path, headers, created_gte)
            answer = self._with_redirect(answer, return_url)
            if key and status < 500:
                self.answers[key] = (status, answer)
            return status, answer

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
        with self.lock:
            status, _ = self._upstream("POST", f"/v1/payment_intents/{intent_id}/_authenticate", headers, form)
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
