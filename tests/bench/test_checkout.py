"""bench/checkout.py's pieces without the split stack: its options, the carts it builds, and the
requests one shopper's turn sends (against a tiny fake shop on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest

from bench.checkout import ShopperRun, basket_for, parse_args, start_offsets


def test_the_defaults_are_todays_one_line_cart_without_a_voucher():
    args = parse_args([])
    assert (args.lines, args.voucher, args.shoppers, args.duration) == (1, "", 8, 30)


def test_a_voucher_and_a_ten_line_cart():
    args = parse_args(["--voucher", "WELCOME10", "--lines", "10"])
    assert (args.lines, args.voucher) == (10, "WELCOME10")


def test_a_cart_needs_at_least_one_line():
    with pytest.raises(SystemExit):
        parse_args(["--lines", "0"])


def test_each_turn_takes_the_next_different_skus_wrapping_round():
    skus = ["A", "B", "C", "D", "E"]
    assert basket_for(skus, lines=2, turn=0) == ["A", "B"]
    assert basket_for(skus, lines=2, turn=1) == ["C", "D"]
    assert basket_for(skus, lines=2, turn=2) == ["E", "A"]
    assert all(len(set(basket_for(skus, lines=5, turn=turn))) == 5 for turn in range(7))


def test_a_cart_larger_than_the_slice_is_refused():
    with pytest.raises(ValueError, match="needs 3 different SKUs"):
        basket_for(["A", "B"], lines=3, turn=0)


def test_paced_shoppers_start_spread_evenly_over_one_interval():
    # 8 shoppers at 2.5/s: one checkout every 0.4 s, not 8 at once every 3.2 s.
    assert start_offsets(8, 8 / 2.5) == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8])
    assert start_offsets(3, None) == [0.0, 0.0, 0.0]  # closed loop: all at once


class _Shop(http.server.BaseHTTPRequestHandler):
    """Answers the benchmark's requests like the shop: cart lines, a voucher (refused when it is
    not `voucher`), checkout; records (method, path, body)."""

    protocol_version = "HTTP/1.1"
    voucher = "WELCOME10"
    requests: list[tuple[str, str, dict]]

    def _answer(self, status: int, body: dict | None = None) -> None:
        data = b"" if status == 204 else json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if data:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        self.requests.append(("POST", self.path, body))
        if self.path.endswith("/cart/voucher/"):
            if body["code"] != self.voucher:
                self._answer(422, {"code": "voucher_unknown"})
            else:
                self._answer(200)
        elif self.path == "/api/v1/orders/":
            assert self.headers["Idempotency-Key"]
            self._answer(201, {"id": f"order-{len(self.requests)}"})
        else:
            self._answer(201)

    def do_DELETE(self) -> None:
        self.requests.append(("DELETE", self.path, {}))
        self._answer(204)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def fake_shop(requests: list) -> Iterator[str]:
    handler = type("Shop", (_Shop,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _one_turn(shopper: ShopperRun, skus: list[str]) -> None:
    # A paced loop whose second turn would start after the stop: exactly one checkout.
    shopper.checkout_loop(skus, stop_at=time.monotonic() + 0.5, interval=0.6)


def test_a_turn_fills_the_cart_enters_the_voucher_then_checks_out():
    sent: list = []
    with fake_shop(sent) as url:
        shopper = ShopperRun(base_url=url, lines=3, voucher="WELCOME10")
        _one_turn(shopper, ["A", "B", "C", "D"])

    assert [(method, path) for method, path, _ in sent] == [
        ("POST", "/api/v1/orders/cart/lines/"),
        ("POST", "/api/v1/orders/cart/lines/"),
        ("POST", "/api/v1/orders/cart/lines/"),
        ("POST", "/api/v1/orders/cart/voucher/"),
        ("POST", "/api/v1/orders/"),
    ]
    assert [body["sku"] for _, _, body in sent[:3]] == ["A", "B", "C"]
    assert sent[3][2] == {"code": "WELCOME10"}
    assert [order.order_id for order in shopper.placed] == ["order-5"]
    assert shopper.failures == []


def test_a_refused_voucher_is_a_failure_and_the_cart_is_emptied_not_checked_out():
    sent: list = []
    with fake_shop(sent) as url:
        shopper = ShopperRun(base_url=url, lines=2, voucher="NOPE")
        _one_turn(shopper, ["A", "B"])

    assert shopper.failures == ["voucher 422 voucher_unknown"]
    assert shopper.placed == []
    assert ("DELETE", "/api/v1/orders/cart/lines/A/", {}) in sent
    assert ("DELETE", "/api/v1/orders/cart/lines/B/", {}) in sent
    assert ("POST", "/api/v1/orders/", {}) not in [(m, p, {}) for m, p, _ in sent]


def test_a_paced_shopper_first_checks_out_after_its_offset():
    sent: list = []
    with fake_shop(sent) as url:
        shopper = ShopperRun(base_url=url)
        started = time.time()
        shopper.checkout_loop(["A", "B"], stop_at=time.monotonic() + 0.5, interval=0.6, offset=0.3)
        late = ShopperRun(base_url=url)
        late.checkout_loop(["A", "B"], stop_at=time.monotonic() + 0.2, interval=0.6, offset=0.3)

    assert len(shopper.placed) == 1
    assert shopper.placed[0].sent_at - started >= 0.3
    assert late.placed == []  # its first turn would start after the stop
