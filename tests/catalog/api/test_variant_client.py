"""The catalog contract client against a live catalog, and its failure modes."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.catalog.contracts.client import CatalogClient, CatalogError, CatalogUnavailable, VariantSnapshot
from tests.catalog import factories
from tests.catalog.helpers import assert_problem


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_client_reads_prices_availability_weight_tax_class_and_categories_from_a_live_catalog(live_server):
    clothing = factories.category(slug="clothing")
    tees = factories.category(slug="tees", parent=clothing)
    product = factories.product(name="Tee", category=tees, tax_class="reduced")
    factories.variant(product=product, sku="TEE-M", name="M", price="19.90", on_hand=5, reserved=2, weight_grams=180)
    factories.variant(product=product, sku="TEE-OFF", name="Off", price="5.00", active=False)

    snapshots = CatalogClient(live_server.url, timeout=5).variants(["TEE-M", "TEE-OFF", "GHOST"])

    assert snapshots == {
        "TEE-M": VariantSnapshot(
            sku="TEE-M",
            product_name="Tee",
            variant_name="M",
            price=Decimal("19.90"),
            currency="EUR",
            available=3,
            active=True,
            product_id=str(product.pk),
            weight_grams=180,
            tax_class="reduced",
            category_slugs=("tees", "clothing"),
        ),
        "TEE-OFF": VariantSnapshot(
            sku="TEE-OFF",
            product_name="Tee",
            variant_name="Off",
            price=Decimal("5.00"),
            currency="EUR",
            available=10,
            active=False,
            product_id=str(product.pk),
            weight_grams=0,
            tax_class="reduced",
            category_slugs=("tees", "clothing"),
        ),
    }


@pytest.mark.django_db(databases="__all__")
def test_the_variants_endpoint_needs_skus_and_bounds_them(api_client, settings):
    settings.CATALOG_MAX_VARIANT_LOOKUP = 2

    assert_problem(api_client.get("/api/v1/catalog/variants/"), status=400, code="invalid")
    assert_problem(api_client.get("/api/v1/catalog/variants/?sku=A&sku=B&sku=C"), status=400, code="invalid")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_catalog_unavailable_after_retries():
    sleeps = []
    client = CatalogClient(f"http://127.0.0.1:{_free_port()}", timeout=0.5, attempts=3, sleep=sleeps.append)

    with pytest.raises(CatalogUnavailable):
        client.variants(["A"])

    assert sleeps == [0.2, 0.4]


class _Server:
    def __init__(self, handler):
        self.httpd = HTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(status: int, body: bytes = b"{}", delay: float = 0.0):
    class Handler(BaseHTTPRequestHandler):
        calls = 0

        def do_GET(self):
            type(self).calls += 1
            if delay:
                threading.Event().wait(delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


def test_5xx_is_retried_then_catalog_unavailable():
    handler = _handler(503)
    with _Server(handler) as server, pytest.raises(CatalogUnavailable) as caught:
        CatalogClient(server.url, timeout=2, attempts=3, sleep=lambda _: None).variants(["A"])

    assert handler.calls == 3
    assert caught.value.status == 503


def test_a_timeout_is_catalog_unavailable():
    with _Server(_handler(200, delay=1.0)) as server, pytest.raises(CatalogUnavailable):
        CatalogClient(server.url, timeout=0.2, attempts=2, sleep=lambda _: None).variants(["A"])


def test_a_4xx_is_an_answer_not_an_outage():
    handler = _handler(400, b'{"code": "invalid"}')
    with _Server(handler) as server, pytest.raises(CatalogError) as caught:
        CatalogClient(server.url, timeout=2, attempts=3, sleep=lambda _: None).variants(["A"])

    assert not isinstance(caught.value, CatalogUnavailable)
    assert handler.calls == 1
    assert caught.value.body == {"code": "invalid"}


def _keep_alive_handler(connections: list[int]):
    """Answers on HTTP/1.1 keep-alive connections; records which connection (client port) asked."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            connections.append(self.client_address[1])
            body = b'{"results": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


class _ThreadingServer(_Server):
    def __init__(self, handler):
        from http.server import ThreadingHTTPServer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


def test_lookups_reuse_one_kept_alive_connection_per_thread_across_clients():
    connections: list[int] = []
    with _ThreadingServer(_keep_alive_handler(connections)) as server:
        for _ in range(3):  # orders builds a client per lookup
            assert CatalogClient(server.url, timeout=2).variants(["A"]) == {}
        other_thread: list[int] = []
        thread = threading.Thread(target=lambda: CatalogClient(server.url, timeout=2).variants(["B"]))
        thread.start()
        thread.join()
        other_thread.append(connections[-1])

    assert len(connections) == 4
    assert len(set(connections[:3])) == 1  # one TCP connection for the three lookups
    assert other_thread[0] != connections[0]  # another thread has its own


def test_a_connection_the_server_closed_while_idle_is_replaced_without_counting_an_attempt():
    connections: list[int] = []
    sleeps: list[float] = []
    with _ThreadingServer(_keep_alive_handler(connections)) as server:
        client = CatalogClient(server.url, timeout=2, attempts=1, sleep=sleeps.append)
        client.variants(["A"])
        # The server ends the idle connection (its keep-alive timeout), as gunicorn does after 75 s.
        from apps.catalog.contracts import client as module

        module._connections.pool[("http", server.url.removeprefix("http://"))].sock.shutdown(socket.SHUT_RDWR)
        assert client.variants(["A"]) == {}  # one attempt allowed, and it still succeeds

    assert len(connections) == 2 and connections[0] != connections[1]
    assert sleeps == []


def test_a_connect_that_takes_longer_than_the_connect_timeout_fails_fast():
    # A listening socket whose backlog is full: the kernel leaves further connects unanswered.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
            fillers.append(filler)
        client = CatalogClient(f"http://127.0.0.1:{full.getsockname()[1]}", timeout=5, connect_timeout=0.2, attempts=1)
        started = time.monotonic()
        with pytest.raises(CatalogUnavailable):
            client.variants(["A"])
        assert time.monotonic() - started < 2
        for filler in fillers:
            filler.close()
