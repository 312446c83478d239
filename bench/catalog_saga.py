"""Benchmark: catalog's share of an order, counted so that the machine's load does not move it:
database round trips and instructions (valgrind's callgrind) per run of catalog's two saga
handlers (order.created reserves, order.confirmed commits) and per live price lookup
(GET variants/?sku=..., which orders makes about twice per order).

    .venv/bin/python -m bench.catalog_saga [--runs 300] [--jobs 2] [--lines 1]
        [--queries-only | --process-time ROUNDS]

Everything runs in process, as bench/tracing_cost.py does: SERVICE=catalog on its own database
(shopstack_bench_saga, seed_demo's catalog, every SKU given plenty of stock), the handlers through
apps.core.events.handlers.deliver (the inbox included, as a worker runs them), the lookup through
Django's WSGI handler (middleware included, gunicorn's HTTP parsing not). The outbox relay after
each commit (core's, the same for every producer) is left out: its rows are written, not sent.

1. Round trips: each handler run and each lookup inside CaptureQueriesContext, printed with the
   statements of one run of each.
2. Instructions: for each of the three, a child process under callgrind twice, after the same
   set-up and warm-up, running 0 and then --runs measured runs; the difference over --runs is one
   run's instructions, start-up, set-up and warm-up cancelled out. Or, with --process-time
   (much faster, but load-dependent), this process's CPU time per run, ROUNDS rounds of --runs.

Needs valgrind (Debian package) and PostgreSQL at BENCH_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres). Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.catalog_list import ROOT, VENV_BIN, drop_database, manage, prepare_database
from bench.inprocess import CallgrindFailed, callgrind, service_env, wsgi_environ

DATABASE = "shopstack_bench_saga"
WARM_UP = 30
KINDS = ("order.created", "order.confirmed", "variants lookup")
LOOKUP_PATH = "/api/v1/catalog/variants/"


class _Harness:
    """The child's side: catalog set up in this process, and one run of each kind."""

    def __init__(self, *, lines: int) -> None:
        import django

        django.setup()
        from django.core.handlers.wsgi import WSGIHandler
        from django.db.models import F

        from apps.catalog.models import Stock, Variant
        from apps.catalog.services.products import product_listing_refresh
        from apps.core.events import outbox

        # Rows written, never sent: the relay is core's and not what this measures.
        outbox._relay_once_after_commit = lambda producer: None
        # Plenty on hand, added rather than set: the two callgrind runs of a kind share the
        # database, and each must leave the other's reservations as they are.
        Stock.objects.update(on_hand=F("on_hand") + 1_000_000)
        product_listing_refresh()
        self.skus = list(
            Variant.objects.filter(active=True, product__active=True).order_by("sku").values_list("sku", flat=True)
        )
        self.lines = lines
        self.turn = 0
        self.app = WSGIHandler()

    def _basket(self) -> list[str]:
        start = self.turn * self.lines
        self.turn += 1
        return [self.skus[(start + i) % len(self.skus)] for i in range(self.lines)]

    def created(self, order_id: str, skus: list[str]) -> None:
        from apps.core.events.envelope import Envelope
        from apps.core.events.handlers import deliver

        payload = {
            "order_id": order_id,
            "order_number": "SO-1",
            "customer_id": str(uuid.uuid4()),
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
        }
        if not deliver("catalog", Envelope(type="order.created", producer="orders", payload=payload, trace_id="")):
            raise RuntimeError("order.created was not handled")

    def confirmed(self, order_id: str, skus: list[str]) -> None:
        from apps.core.events.envelope import Envelope
        from apps.core.events.handlers import deliver

        payload = {
            "order_id": order_id,
            "order_number": "SO-1",
            "customer_id": str(uuid.uuid4()),
            "email": "shopper@example.com",
            "total": "10.00",
            "currency": "EUR",
            "lines": [{"sku": sku, "quantity": 1} for sku in skus],
        }
        if not deliver("catalog", Envelope(type="order.confirmed", producer="orders", payload=payload, trace_id="")):
            raise RuntimeError("order.confirmed was not handled")

    def lookup(self, skus: list[str]) -> None:
        query = "&".join(f"sku={sku}" for sku in skus)
        status: list[str] = []
        environ = wsgi_environ("GET", f"{LOOKUP_PATH}?{query}")
        body = self.app(environ, lambda answer, headers: status.append(answer))
        content = b"".join(body)
        body.close()
        if not status[0].startswith("200") or b'"results":[{' not in content:
            raise RuntimeError(f"the lookup answered {status[0]}: {content[:200]!r}")

    def orders(self, count: int) -> list[tuple[str, list[str]]]:
        return [(str(uuid.uuid4()), self._basket()) for _ in range(count)]

    def run(self, kind: str, measured: int, total: int) -> None:
        """WARM_UP runs of `kind`, then `measured`; set-up (the reservations order.confirmed
        commits) sized by `total`, so that runs with different `measured` do the same set-up."""
        orders = self.orders(WARM_UP + total)
        if kind == "order.created":
            for order_id, skus in orders[: WARM_UP + measured]:
                self.created(order_id, skus)
        elif kind == "order.confirmed":
            for order_id, skus in orders:
                self.created(order_id, skus)
            for order_id, skus in orders[: WARM_UP + measured]:
                self.confirmed(order_id, skus)
        else:
            for _, skus in orders[: WARM_UP + measured]:
                self.lookup(skus)

    def process_time(self, rounds: int, runs: int) -> None:
        """Print this process's CPU time per run of each kind: the median and the least of
        `rounds` rounds of `runs` runs. Moves with the machine's load (caches shared); for
        comparing two commits run alternately on one machine, when callgrind takes too long."""
        import statistics
        import time

        def per_run(calls: list[Any]) -> float:
            started = time.process_time()
            for call in calls:
                call()
            return (time.process_time() - started) / len(calls) * 1000

        for order in self.orders(WARM_UP):
            self.created(*order)
            self.confirmed(*order)
            self.lookup(order[1])
        figures: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(rounds):
            orders = self.orders(runs)
            figures["order.created"].append(per_run([lambda o=o: self.created(*o) for o in orders]))
            figures["order.confirmed"].append(per_run([lambda o=o: self.confirmed(*o) for o in orders]))
            figures["variants lookup"].append(per_run([lambda o=o: self.lookup(o[1]) for o in orders]))
        print(f"process CPU per run, {rounds} rounds of {runs} runs after {WARM_UP} warm-up, {self.lines} line(s)")
        for kind, values in figures.items():
            print(f"{kind:>16}: median {statistics.median(values):.3f} ms, least {min(values):.3f} ms")

    def round_trips(self, runs: int) -> None:
        """Print the round trips of each kind per run (the statements of the last run of each)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        for _, skus in self.orders(WARM_UP):
            self.lookup(skus)
        orders = self.orders(runs)
        calls = {
            "order.created": [lambda o=o: self.created(*o) for o in orders],
            "order.confirmed": [lambda o=o: self.confirmed(*o) for o in orders],
            "variants lookup": [lambda o=o: self.lookup(o[1]) for o in orders],
        }
        for kind in KINDS:
            counts = []
            for call in calls[kind]:
                with CaptureQueriesContext(connection) as queries:
                    call()
                counts.append(len(queries))
            print(f"{kind}: {min(counts)}-{max(counts)} round trips per run ({sum(counts) / len(counts):.2f} mean)")
            for query in queries.captured_queries:
                print(f"    {query['sql'][:160]}")


def _child(kind: str, measured: int, total: int, lines: int) -> None:
    _Harness(lines=lines).run(kind, measured, total)
    # No interpreter shutdown: under valgrind its collection took long enough to be killed at
    # times, and it is the same in every run anyway.
    sys.stdout.flush()
    os._exit(0)


def instructions(env: dict[str, str], kind: str, measured: int, total: int, lines: int) -> int | None:
    """The instructions of one child run under callgrind; None (its error printed) if it failed."""
    argv = [str(VENV_BIN / "python"), "-m", "bench.catalog_saga", "--child", kind, str(measured), str(total)]
    try:
        return callgrind([*argv, "--lines", str(lines)], env)[0]
    except CallgrindFailed as failed:
        print(f"{kind}: {failed}", file=sys.stderr)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300, help="measured runs of each kind")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--lines", type=int, default=1, help="order lines (different SKUs, one unit each)")
    parser.add_argument("--queries-only", action="store_true", help="count round trips, skip callgrind")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument(
        "--process-time",
        type=int,
        metavar="ROUNDS",
        help="instead of callgrind: process CPU time per run, ROUNDS rounds of --runs runs (load-dependent)",
    )
    parser.add_argument("--round-trips", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--process-time-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, measured, total = args.child
        _child(kind, int(measured), int(total), args.lines)
        return
    if args.round_trips:
        _Harness(lines=args.lines).round_trips(args.round_trips)
        return
    if args.process_time_child:
        _Harness(lines=args.lines).process_time(args.process_time_child, args.runs)
        return

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    env = service_env(
        "catalog", prepare_database(admin_url, DATABASE), LOG_LEVEL="WARNING", DATABASE_CONN_MAX_AGE="600"
    )
    try:
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "seed_demo", "--verbosity", "0")
        argv = [str(VENV_BIN / "python"), "-m", "bench.catalog_saga", "--round-trips", "20", "--lines", str(args.lines)]
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=600)
        if args.queries_only:
            return
        if args.process_time:
            timed = [*argv[:3], "--process-time-child", str(args.process_time), "--runs", str(args.runs)]
            subprocess.run([*timed, "--lines", str(args.lines)], cwd=ROOT, env=env, check=True, timeout=3600)
            return
        runs = [(kind, measured) for kind in KINDS for measured in (0, args.runs)]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            counted = list(pool.map(lambda run: instructions(env, *run, args.runs, args.lines), runs))
    finally:
        if not args.keep_db:
            drop_database(admin_url, DATABASE)
    print(f"instructions per run, in process, {args.runs} runs after {WARM_UP} warm-up, {args.lines} line(s)")
    for index, kind in enumerate(KINDS):
        base, total = counted[2 * index], counted[2 * index + 1]
        figure = "failed" if base is None or total is None else f"{(total - base) / args.runs / 1e6:6.3f} M"
        print(f"{kind:>16}: {figure}")


if __name__ == "__main__":
    main()
