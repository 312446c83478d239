"""Benchmark: what one order costs the orders service, step by step, in process: database round
trips (Django's CaptureQueriesContext) and instructions (valgrind's callgrind), both the same
whatever else the machine is doing.

    .venv/bin/python -m bench.orders_cost [--orders 30] [--jobs 2] [--no-callgrind] [--web-only]

The steps of one order on the split stack's orders service, as bench/checkout.py drives them:
the cart-line add (POST /api/v1/orders/cart/lines/, one SKU) and the checkout (POST
/api/v1/orders/ with an Idempotency-Key), each through Django's WSGI handler with a shopper's
JWT; then the saga's two steps in orders' worker, stock.reserved and payment.succeeded, each run
as the worker runs it (the task `apps.core.events.handle_event` called with the event's
dictionary: envelope, inbox, handler, outbox). Each commit's relay pass runs in line after the
commit (EVENTS_RELAY_IN_BACKGROUND off: on the stack it is the relay thread's) and sends to a
transport that drops the messages (no SNS), so its claim and its UPDATE are counted in the step
that committed. Catalog's price lookup goes over HTTP, through catalog's contract client, to a
stand-in in another process that answers from a fixed snapshot: the client's work counts, the
catalog's does not.

Query counts: one child process, --orders orders after a warm-up, the round trips of each step
on orders' connection (the commonest count of each). CPU: another child, the
median of each step's CPU time on its thread (time.thread_time: other work on the machine slows it
only through shared caches, so compare runs made one after the other). Instructions: the child
under callgrind five times, each after the same set-up and warm-up: no orders, then --orders
orders carried one step further each time (cart line; + checkout; + stock.reserved; +
payment.succeeded); the difference between two runs over --orders is one step's instructions,
every thread of the process counted. Needs PostgreSQL at BENCH_POSTGRES_URL (as
bench/catalog_list.py) and, for instructions, valgrind; its database, shopstack_bench_orders, is
dropped at the end. Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.catalog_list import ROOT, _free_port, drop_database, manage, prepare_database
from bench.inprocess import (
    add_step_arguments,
    measure_steps,
    service_env,
    steps_child_argv,
    steps_instructions,
    wsgi_environ,
)

DATABASE = "shopstack_bench_orders"
SHOPPERS = 8
WARM_UP = 2 * SHOPPERS
STEPS = ("cart line add", "checkout", "stock.reserved", "payment.succeeded")
ADDRESS = {"full_name": "Bea Nch", "line1": "1 Load Lane", "city": "Localhost", "postal_code": "12700", "country": "GB"}


class DroppingTransport:
    """The relay's transport here: sends nothing, as if SNS took every message at once."""

    batch_size = 10

    def send(self, envelope: Any) -> None:
        return None

    def send_many(self, envelopes: list[Any]) -> list[Exception | None]:
        return [None] * len(envelopes)


# --- The catalog stand-in (its own process) ------------------------------------------------------


def _variant(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "product_id": str(uuid.uuid5(uuid.NAMESPACE_URL, sku)),
        "product_name": f"Product {sku}",
        "variant_name": "One size",
        "price": "12.50",
        "currency": "EUR",
        "available": 1000,
        "active": True,
        "weight_grams": 300,
        "tax_class": "standard",
        "category_slugs": ["bench"],
    }


class _CatalogHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as catalog's gunicorn answers

    def do_GET(self) -> None:
        skus = parse_qs(urlsplit(self.path).query).get("sku", [])
        body = json.dumps({"results": [_variant(sku) for sku in skus]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


def serve_catalog(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _CatalogHandler).serve_forever()


# --- The child: one process of the orders service -----------------------------------------------


class _Orders:
    """Drives the orders service in this process; each method is one step of one order."""

    def __init__(self, count: int) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        from tests.core.tokens import access_token

        self.app = WSGIHandler()
        # As bench/checkout.py's: SHOPPERS shoppers taking turns, so after the warm-up each has
        # a cart (emptied by its last checkout) and its revocation check cached.
        self.shoppers = [uuid.uuid4() for _ in range(SHOPPERS)]
        self.tokens = [
            access_token(subject=shopper, email=f"{shopper.hex[:8]}@example.com", expires_in=86400)
            for shopper in self.shoppers
        ]
        self.order_ids: list[str] = [""] * count
        self.totals: list[str] = [""] * count  # what payments will have captured

    def _post(self, index: int, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        environ = wsgi_environ(
            "POST",
            path,
            body=raw,
            CONTENT_TYPE="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.tokens[index % SHOPPERS]}",
            **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
        )
        status: list[str] = []
        body_parts = self.app(environ, lambda line, _headers: status.append(line))
        answer = b"".join(body_parts)
        body_parts.close()
        if not status[0].startswith(("200", "201")):
            raise RuntimeError(f"POST {path}: {status[0]} {answer[:500]!r}")
        return json.loads(answer)

    def cart_line_add(self, index: int) -> None:
        self._post(index, "/api/v1/orders/cart/lines/", {"sku": f"BENCH-{index:04d}", "quantity": 1})

    def checkout(self, index: int) -> None:
        order = self._post(
            index,
            "/api/v1/orders/",
            {"shipping_address": ADDRESS, "payment_method_token": "tok_success"},
            IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        self.order_ids[index], self.totals[index] = order["id"], order["total"]

    def _event(self, event_type: str, producer: str, payload: dict[str, Any]) -> None:
        from apps.core.events import Envelope
        from apps.core.events.tasks import handle_event

        envelope = Envelope(type=event_type, producer=producer, payload=payload, trace_id=uuid.uuid4().hex)
        handle_event(envelope=envelope.to_dict())

    def stock_reserved(self, index: int) -> None:
        order_id = self.order_ids[index]
        self._event(
            "stock.reserved", "catalog", {"order_id": order_id, "lines": [{"sku": f"BENCH-{index:04d}", "quantity": 1}]}
        )

    def payment_succeeded(self, index: int) -> None:
        payload = {
            "order_id": self.order_ids[index],
            "payment_id": str(uuid.uuid4()),
            "customer_id": str(self.shoppers[index % SHOPPERS]),
            "amount": self.totals[index],
            "currency": "EUR",
        }
        self._event("payment.succeeded", "payments", payload)

    def steps(self) -> list:
        return [self.cart_line_add, self.checkout, self.stock_reserved, self.payment_succeeded]


def child(orders: int, steps: int, count_queries: bool) -> None:
    import django

    django.setup()
    driver = _Orders(WARM_UP + orders)
    measure_steps(STEPS, driver.steps, warm_up=WARM_UP, orders=orders, limit=steps, count_queries=count_queries)
    print("done")


def _child_argv(orders: int, steps: int, *, count_queries: bool = False) -> list[str]:
    return steps_child_argv("bench.orders_cost", orders, steps, count_queries=count_queries)


def instructions(env: dict[str, str], orders: int, steps: int) -> int:
    return steps_instructions("bench.orders_cost", env, orders, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_arguments(parser, database=DATABASE, steps=len(STEPS))
    parser.add_argument(
        "--total-only", action="store_true", help="callgrind: one order's instructions, not each step's (2 runs, not 5)"
    )
    parser.add_argument(
        "--web-only",
        action="store_true",
        help="callgrind: the two web requests' instructions only, the cart line and checkout (3 runs, not 5)",
    )
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.steps, args.count_queries)
        return

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    catalog_port = _free_port()
    catalog = subprocess.Popen(
        [sys.executable, "-c", f"from bench.orders_cost import serve_catalog; serve_catalog({catalog_port})"], cwd=ROOT
    )
    try:
        env = service_env(
            "orders",
            prepare_database(admin_url, args.database),
            LOG_FORMAT="json",
            # What a process keeps for a while is kept for the whole run (under callgrind it runs
            # a hundred times slower): the connection, the pricing rules, the revocation checks.
            DATABASE_CONN_MAX_AGE="86400",
            ORDERS_PRICING_RULES_CACHE_SECONDS="86400",
            AUTH_REVOCATION_CACHE_SECONDS="86400",
            CATALOG_API_URL=f"http://127.0.0.1:{catalog_port}",
            EVENT_TRANSPORT="bench.orders_cost.DroppingTransport",
            EVENTS_RELAY_IN_BACKGROUND="0",
            THROTTLE_CHECKOUT="1000000/hour",
            THROTTLE_CART_WRITE="1000000/minute",
            CELERY_BROKER_URL="memory://",
        )
        env.pop("TASKS_RUN_IN_PROCESS", None)
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "seed_pricing_demo")
        counted = subprocess.run(
            _child_argv(args.orders, len(STEPS), count_queries=True),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if counted.returncode:
            raise SystemExit(counted.stderr[-3000:])
        if args.show_queries:
            print(counted.stderr)
        queries = json.loads(counted.stdout.splitlines()[-2])
        timed = subprocess.run(
            _child_argv(args.orders, len(STEPS)), cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600
        )
        if timed.returncode:
            raise SystemExit(timed.stderr[-3000:])
        cpu_ms = json.loads(timed.stdout.splitlines()[-2])
        per_step: dict[str, float] = {}
        per_order: float | None = None
        if not args.no_callgrind:
            # How many steps each measured run carries: all four, or one more each run.
            prefixes = list(range(1, len(STEPS) + 1))
            if args.total_only or args.web_only:
                prefixes = [len(STEPS)] if args.total_only else [1, 2]
            runs = [(0, len(STEPS))] + [(args.orders, steps) for steps in prefixes]
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                totals = list(pool.map(lambda run: instructions(env, *run), runs))
            if not args.web_only:
                per_order = (totals[-1] - totals[0]) / args.orders
            if not args.total_only:
                per_step = {
                    name: (totals[n + 1] - totals[n]) / args.orders for n, name in enumerate(STEPS[: len(prefixes)])
                }
    finally:
        catalog.terminate()
        catalog.wait(timeout=10)
        if not args.keep_db:
            drop_database(admin_url, args.database)

    print(f"orders service, per order ({args.orders} orders after {WARM_UP} warm-up), in process")
    print(f"{'step':>20}  {'round trips':>11}  {'CPU ms (median)':>15}  {'instructions':>14}")
    for name in STEPS:
        count = per_step.get(name)
        shown = f"{count / 1e6:11.2f} M" if count is not None else "-"
        print(f"{name:>20}  {queries[name]:>11}  {cpu_ms[name]:>15.2f}  {shown:>14}")
    total = f"{per_order / 1e6:11.2f} M" if per_order is not None else "-"
    print(f"{'all four':>20}  {sum(queries.values()):>11}  {sum(cpu_ms.values()):>15.2f}  {total:>14}")


if __name__ == "__main__":
    main()
