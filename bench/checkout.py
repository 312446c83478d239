"""Benchmark: end-to-end checkout throughput on the split stack, beside pgbench on the same
PostgreSQL in the same run. Traffic goes to 127.0.0.1 only; every phase is bounded.

    STACK_PAYMENTS_PROVIDER=sandbox THROTTLE_REGISTER=1000/hour THROTTLE_LOGIN=1000/minute scripts/stack up
    .venv/bin/python -m bench.checkout [--duration 30] [--shoppers 8] [--pgbench-clients 8]
        [--lines 1] [--voucher CODE]
    scripts/stack down

(The raised throttles let the benchmark register its shoppers; the stack's own defaults are the
production rates. The shoppers pay with the sandbox's `tok_success`: payments on the sandbox.)

1. Reference: pgbench (TPC-B-like, scale 10) on a scratch database of the same server:
   transactions per second with --pgbench-clients clients for --duration seconds.
Before anything is measured, --warmup orders (default 24) are placed and settled: a fresh
stack's first orders pay once per process for what is not a per-order cost (boto3 clients
loading their models, connections opening).
2. Peak: --shoppers shoppers, each on its own keep-alive connection through the gateway, fill the
   cart with --lines different in-stock SKUs (one unit each), enter --voucher if given (a code
   with no per-shopper limit and a minimum the cart meets, e.g. the demo's WELCOME10 with
   --lines 10), and check out with a good test card, again and again for --duration seconds
   (closed loop: a shopper's next checkout starts when the last one answered); then wait (at
   most --settle-timeout seconds) until every order placed is confirmed or cancelled. The
   checkout request's latency is timed alone; the cart's requests count in the placed rate.
3. Paced: the same at a fixed rate of half the confirmed rate the peak phase sustained, so the
   latency is the saga's own rather than a growing queue's.

Reports per phase: orders placed and confirmed per second (confirmed over the whole window,
drain included), the checkout request's p50/p99, checkout-to-confirmed p50/p99 (from the moment
the client sent the checkout to the orders service's confirmed history row; one machine, one
clock), and lost (never final) orders; and what the phase cost the stack (bench/stack_meter.py):
CPU by process class (web, worker, relay, beat, moto, PostgreSQL) from /proc, per confirmed order,
beside what the shop's processes use when idle (--idle-seconds before the peak), and the AWS
calls the moto server answered, by operation, per confirmed order.

--profile DIR records the --profile-roles processes (default: the Celery workers) with py-spy
during the peak phase and prints where their CPU went (bench/profiling.py); a profiled run is
slower, so its other figures are not the ones to record.
Results and how to read them: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import requests

from bench import profiling
from bench.stack_meter import CpuMeter, CpuWindow, MotoCalls, calls_report, process_class
from devstack import stack

GATEWAY = f"http://127.0.0.1:{stack.GATEWAY_PORT}"
PGBENCH_DATABASE = "shopstack_bench_pgbench"
ADDRESS = {"full_name": "Bea Nch", "line1": "1 Load Lane", "city": "Localhost", "postal_code": "12700", "country": "GB"}
FINAL = ("confirmed", "cancelled")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- Reference: pgbench -----------------------------------------------------------------------------


def run_pgbench(*, clients: int, duration: int) -> float:
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise SystemExit("pgbench is not installed (Debian: postgresql-contrib / postgresql-client)")
    admin = stack.PG_URL
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{PGBENCH_DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{PGBENCH_DATABASE}"')
    url = admin.rsplit("/", 1)[0] + f"/{PGBENCH_DATABASE}"
    try:
        subprocess.run([pgbench, "-i", "-q", "-s", "10", url], check=True, capture_output=True, timeout=300)
        result = subprocess.run(
            [pgbench, "-c", str(clients), "-j", "2", "-T", str(duration), url],
            check=True,
            capture_output=True,
            text=True,
            timeout=duration + 120,
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{PGBENCH_DATABASE}" WITH (FORCE)')
    match = re.search(r"tps = ([0-9.]+)", result.stdout)
    if match is None:
        raise SystemExit(f"could not read pgbench's output:\n{result.stdout}")
    return float(match.group(1))


# --- Load: shoppers checking out ---------------------------------------------------------------------


@dataclass
class Placed:
    order_id: str
    sent_at: float  # wall clock, to compare with the database's timestamps
    request_seconds: float


def basket_for(skus: list[str], *, lines: int, turn: int) -> list[str]:
    """The `lines` SKUs of a shopper's `turn`-th cart: the next ones along its slice, wrapping
    round, all different (the slice must hold at least `lines`)."""
    if lines > len(skus):
        raise ValueError(f"a {lines}-line cart needs {lines} different SKUs, the slice has {len(skus)}")
    start = turn * lines
    return [skus[(start + i) % len(skus)] for i in range(lines)]


@dataclass
class ShopperRun:
    base_url: str = GATEWAY
    lines: int = 1
    voucher: str = ""
    session: requests.Session = field(default_factory=requests.Session)
    placed: list[Placed] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    turns: int = 0

    def sign_up(self) -> None:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        password = "A-bench-Passphrase-42"
        response = self.session.post(
            f"{self.base_url}/api/v1/users/register/", json={"email": email, "password": password}
        )
        if response.status_code == 429:
            raise SystemExit("registration throttled: start the stack with THROTTLE_REGISTER=1000/hour (see --help)")
        response.raise_for_status()
        response = self.session.post(
            f"{self.base_url}/api/v1/users/token/", json={"email": email, "password": password}
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def checkout_loop(
        self,
        skus: list[str],
        stop_at: float,
        interval: float | None = None,
        orders: int | None = None,
        offset: float = 0.0,
    ) -> None:
        """Check out again and again until `stop_at` (or `orders` placed): at once (closed loop,
        `interval` None) or one checkout every `interval` seconds (paced), the first `offset`
        seconds from now."""
        next_start = time.monotonic() + offset
        self.placed, self.failures = [], []
        for turn in itertools.count(self.turns):
            self.turns = turn + 1  # the next loop goes on along the slice (fresh SKUs)
            if interval is not None:
                time.sleep(max(next_start - time.monotonic(), 0))
                next_start += interval
            if time.monotonic() >= stop_at or (orders is not None and len(self.placed) >= orders):
                return
            if not self.fill_cart(basket_for(skus, lines=self.lines, turn=turn)):
                continue
            sent_at, started = time.time(), time.perf_counter()
            response = self.session.post(
                f"{self.base_url}/api/v1/orders/",
                json={"shipping_address": ADDRESS, "payment_method_token": "tok_success"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
                timeout=30,
            )
            elapsed = time.perf_counter() - started
            if response.status_code == 201:
                self.placed.append(Placed(response.json()["id"], sent_at, elapsed))
            else:
                self.failures.append(f"checkout {response.status_code}")

    def fill_cart(self, skus: list[str]) -> bool:
        """Put one unit of each SKU in the cart, then the voucher; False (and a failure noted,
        the lines taken out again for the next turn) when a step is refused."""
        added: list[str] = []
        for sku in skus:
            response = self.session.post(
                f"{self.base_url}/api/v1/orders/cart/lines/", json={"sku": sku, "quantity": 1}, timeout=30
            )
            if response.status_code not in (200, 201):
                self.failures.append(f"cart {response.status_code}")
                self.empty_cart(added)
                return False
            added.append(sku)
        if self.voucher:
            response = self.session.post(
                f"{self.base_url}/api/v1/orders/cart/voucher/", json={"code": self.voucher}, timeout=30
            )
            if response.status_code != 200:
                self.failures.append(f"voucher {response.status_code} {_problem_code(response)}".rstrip())
                self.empty_cart(added)
                return False
        return True

    def empty_cart(self, skus: list[str]) -> None:
        for sku in skus:
            self.session.delete(f"{self.base_url}/api/v1/orders/cart/lines/{sku}/", timeout=30)


def _problem_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


def sellable_skus(limit: int) -> list[str]:
    """Plenty of SKUs with stock to spare, so the load measures the saga, not one hot row."""
    with psycopg.connect(stack.database_url("catalog")) as connection:
        rows = connection.execute(
            """
            SELECT v.sku FROM catalog_variant v
            JOIN catalog_stock s ON s.variant_id = v.id
            JOIN catalog_product p ON p.id = v.product_id
            WHERE v.active AND p.active AND s.on_hand - s.reserved >= 20
            ORDER BY random() LIMIT %s
            """,
            (limit,),
        ).fetchall()
    if len(rows) < 10:
        raise SystemExit("the stack's catalog has too little stock: was it seeded (scripts/stack up)?")
    return [sku for (sku,) in rows]


def settle(order_ids: list[str], timeout: float) -> dict[str, tuple[str, datetime | None]]:
    """Each order's status and when it turned confirmed, once all are final (or the time is up)."""
    ids = [uuid.UUID(order_id) for order_id in order_ids]
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.database_url("orders")) as connection:
        while True:
            rows = connection.execute(
                """
                SELECT o.id::text, o.status,
                       (SELECT min(c.at) FROM orders_orderstatuschange c
                        WHERE c.order_id = o.id AND c.to_status = 'confirmed')
                FROM orders_order o WHERE o.id = ANY(%s)
                """,
                (ids,),
            ).fetchall()
            connection.commit()
            if sum(status in FINAL for _, status, _ in rows) == len(ids) or time.monotonic() > deadline:
                return {order_id: (status, confirmed_at) for order_id, status, confirmed_at in rows}
            time.sleep(1)


@dataclass
class PhaseResult:
    placed: int
    confirmed: int
    cancelled: int
    lost: int
    failures: list[str]
    placed_per_second: float
    confirmed_per_second: float
    request_ms: list[float]
    to_confirmed_ms: list[float]

    def lines(self, name: str) -> list[str]:
        return [
            f"{name}: orders placed {self.placed} ({self.placed_per_second:.1f}/s), confirmed {self.confirmed} "
            f"({self.confirmed_per_second:.1f}/s), cancelled {self.cancelled}, lost {self.lost}, "
            f"failed requests {len(self.failures)} {sorted(set(self.failures))}",
            f"    checkout request       p50 {percentile(self.request_ms, 0.5):7.0f} ms   "
            f"p99 {percentile(self.request_ms, 0.99):7.0f} ms",
            f"    checkout -> confirmed  p50 {percentile(self.to_confirmed_ms, 0.5):7.0f} ms   "
            f"p99 {percentile(self.to_confirmed_ms, 0.99):7.0f} ms",
        ]


def start_offsets(shoppers: int, interval: float | None) -> list[float]:
    """When each shopper's first paced checkout starts, in seconds from the phase's start: spread
    evenly over one `interval`, so the checkouts arrive one every interval / shoppers seconds, the
    rate asked for. Started together, the shoppers would send their checkouts in bursts of
    `shoppers` at once, and each would wait for the others of its burst (measured on the split
    stack at 2.5/s with 8 shoppers: p50 180-195 ms in bursts, 33-35 ms spread). Closed loop (no
    `interval`): all at once."""
    if interval is None:
        return [0.0] * shoppers
    return [index * interval / shoppers for index in range(shoppers)]


def run_phase(
    shoppers: list[ShopperRun],
    skus: list[str],
    *,
    duration: int,
    rate: float | None,
    settle_timeout: float,
    orders: int | None = None,
) -> PhaseResult:
    """`duration` seconds of checkouts (closed loop, or `rate` orders/s spread over the shoppers;
    or `orders` in all, shared among the shoppers), then wait until every order placed is final
    and read when each was confirmed."""
    window_start = time.time()
    stop_at = time.monotonic() + duration
    interval = len(shoppers) / rate if rate else None
    quota = None if orders is None else -(-orders // len(shoppers))
    offsets = start_offsets(len(shoppers), interval)
    # Each shopper walks its own slice of the SKUs, so shoppers rarely want the same row.
    threads = [
        threading.Thread(
            target=shopper.checkout_loop,
            args=(skus[i :: len(shoppers)], stop_at, interval, quota, offsets[i]),
            daemon=True,
        )
        for i, shopper in enumerate(shoppers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 60)
    load_seconds = time.time() - window_start

    placed = [order for shopper in shoppers for order in shopper.placed]
    outcome = settle([order.order_id for order in placed], settle_timeout)
    confirmed = {
        order.order_id: outcome[order.order_id][1] for order in placed if outcome[order.order_id][0] == "confirmed"
    }
    cancelled = sum(status == "cancelled" for status, _ in outcome.values())
    last_confirmed = max((at.timestamp() for at in confirmed.values()), default=window_start)
    return PhaseResult(
        placed=len(placed),
        confirmed=len(confirmed),
        cancelled=cancelled,
        lost=len(placed) - len(confirmed) - cancelled,
        failures=[failure for shopper in shoppers for failure in shopper.failures],
        placed_per_second=len(placed) / load_seconds,
        # Over the whole window, drain included: what the saga actually sustained.
        confirmed_per_second=len(confirmed) / max(last_confirmed - window_start, 1e-9),
        request_ms=[order.request_seconds * 1000 for order in placed],
        to_confirmed_ms=[
            (confirmed[order.order_id].timestamp() - order.sent_at) * 1000
            for order in placed
            if order.order_id in confirmed
        ],
    )


@dataclass
class Costs:
    """What a phase cost the stack: the meters' readings around it."""

    meter: CpuMeter
    calls: MotoCalls | None
    idle_per_second: float | None = None
    idle: CpuWindow | None = None

    def measure(self, run: Callable[[], PhaseResult]) -> tuple[PhaseResult, list[str]]:
        before, started = self.meter.reading(), time.monotonic()
        if self.calls:
            self.calls.start()
        result = run()
        after, elapsed = self.meter.reading(), time.monotonic() - started
        lines = self.meter.window(before, after).report(
            orders=result.confirmed, elapsed=elapsed, idle_per_second=self.idle_per_second
        )
        if self.calls:
            lines += calls_report(self.calls.stop(), orders=result.confirmed, elapsed=elapsed)
        return result, lines

    def measure_idle(self, seconds: float, *, settle_seconds: float = 5) -> None:
        """The shop's own processes' CPU per second with no orders (relays' sweeps, workers' long
        polls), after `settle_seconds` for the last orders' trailing work (the confirmation's
        stock commit and email) to end."""
        time.sleep(settle_seconds)
        before = self.meter.reading()
        time.sleep(seconds)
        self.idle = self.meter.window(before, self.meter.reading())
        self.idle_per_second = self.idle.project() / seconds


def stack_pids(roles: set[str]) -> dict[str, int]:
    """The running stack's processes of these roles (pid file name -> pid), e.g. {"worker"}."""
    found = {}
    for pidfile in sorted(stack.RUN_DIR.glob("*.pid")):
        if process_class(pidfile.stem)[0] in roles:
            found[pidfile.stem] = int(pidfile.read_text().strip())
    return found


def tracing_settings() -> str:
    """The tracing the stack runs with, read from the orders web process's environment."""
    pid = stack_pids({"web"}).get("orders-web")
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes() if pid else b""
    except OSError:
        raw = b""
    env = dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)
    wanted = ("TRACING_EXPORTER", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_ENDPOINT")
    return ", ".join(f"{name}={env[name]}" for name in wanted if name in env) or "TRACING_EXPORTER unset (local: file)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30, help="seconds of each load phase (and of pgbench)")
    parser.add_argument("--shoppers", type=int, default=8)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--settle-timeout", type=float, default=300)
    parser.add_argument("--lines", type=_positive, default=1, help="different SKUs in each cart (one unit each)")
    parser.add_argument("--voucher", default="", metavar="CODE", help="a voucher code entered before each checkout")
    parser.add_argument(
        "--warmup", type=int, default=24, help="orders placed and settled before anything is measured (0: none)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=10, help="seconds the stack's idle CPU is measured before the peak"
    )
    parser.add_argument(
        "--no-aws-calls", action="store_true", help="do not count AWS calls (moto's request recorder stays off)"
    )
    parser.add_argument("--skip-pgbench", action="store_true", help="no pgbench reference (a profiling run)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="record processes with py-spy during the peak")
    parser.add_argument(
        "--profile-roles", default="worker", help="comma-separated: worker, web, relay, beat, moto (default worker)"
    )
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"),
        help="the py-spy executable (default: the project's venv's, from requirements-dev.txt, else on PATH)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="functions listed per profiled process")
    return parser.parse_args(argv)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main() -> None:
    args = parse_args()

    try:
        requests.get(f"{GATEWAY}/api/v1/catalog/categories/", timeout=5).raise_for_status()
    except requests.RequestException as error:
        raise SystemExit(f"the split stack does not answer at {GATEWAY} ({error}): run scripts/stack up") from error

    if args.profile and not args.py_spy:
        raise SystemExit("--profile needs py-spy (pip install py-spy, then --py-spy PATH if it is not on PATH)")
    print(f"tracing: {tracing_settings()}", flush=True)
    tps = None
    if not args.skip_pgbench:
        print(f"pgbench: {args.pgbench_clients} clients, {args.duration} s, scale 10 ...", flush=True)
        tps = run_pgbench(clients=args.pgbench_clients, duration=args.duration)

    skus = sellable_skus(500)
    if len(skus) // args.shoppers < args.lines:
        raise SystemExit(f"{len(skus)} sellable SKUs are too few for {args.shoppers} shoppers' {args.lines}-line carts")
    shoppers = [ShopperRun(lines=args.lines, voucher=args.voucher) for _ in range(args.shoppers)]
    for shopper in shoppers:
        shopper.sign_up()
    if args.warmup:
        # A fresh stack's first orders pay for each process's first use of everything (boto3
        # clients load their models, connections open, code paths import): not per-order costs.
        print(f"warm-up: {args.warmup} orders ...", flush=True)
        warm = run_phase(
            shoppers, skus, duration=600, rate=None, settle_timeout=args.settle_timeout, orders=args.warmup
        )
        print(f"warm-up: {warm.confirmed} of {warm.placed} confirmed", flush=True)
    meter = CpuMeter(stack.RUN_DIR, stack.DB_PREFIX).start()
    calls = None if args.no_aws_calls else MotoCalls(f"http://127.0.0.1:{stack.MOTO_PORT}", stack.MOTO_RECORDING)
    costs = Costs(meter, calls)
    print(f"idle: {args.idle_seconds:.0f} s with no orders ...", flush=True)
    costs.measure_idle(args.idle_seconds)

    cart = f"{args.lines}-line carts" + (f" with voucher {args.voucher}" if args.voucher else "")
    print(f"peak: {args.shoppers} shoppers checking out {cart} back to back, {args.duration} s ...", flush=True)
    recordings = []
    if args.profile:
        roles = {role.strip() for role in args.profile_roles.split(",")}
        recordings = [
            profiling.record(args.py_spy, pid=pid, name=name, seconds=args.duration, directory=args.profile)
            for name, pid in stack_pids(roles).items()
        ]
    peak, peak_costs = costs.measure(
        lambda: run_phase(shoppers, skus, duration=args.duration, rate=None, settle_timeout=args.settle_timeout)
    )
    profiles = profiling.summaries(recordings, timeout=60)
    half = max(peak.confirmed_per_second / 2, 0.1)
    print(f"paced: {half:.1f} checkouts/s (half the peak confirmed rate), {args.duration} s ...", flush=True)
    paced, paced_costs = costs.measure(
        lambda: run_phase(shoppers, skus, duration=args.duration, rate=half, settle_timeout=args.settle_timeout)
    )
    meter.stop()

    print()
    print(f"tracing: {tracing_settings()}")
    if tps is not None:
        print(f"pgbench (same PostgreSQL, TPC-B-like, {args.pgbench_clients} clients): {tps:.0f} transactions/s")
    idle_by_class = ", ".join(
        f"{name} {value * 1000 / args.idle_seconds:.0f}" for name, value in costs.idle.by_class().items()
    )
    print(
        f"idle: the shop's processes used {costs.idle_per_second * 1000:.0f} ms of CPU per second with no orders "
        f"(ms/s by class: {idle_by_class})"
    )
    for line in [*peak.lines("peak"), *peak_costs, *paced.lines(f"paced at {half:.1f}/s"), *paced_costs]:
        print(line)
    if profiles:
        print(f"profiles (py-spy, peak phase, raw stacks in {args.profile}):")
        for name, summary in profiles.items():
            for line in summary.lines(name, top=args.profile_top):
                print(line)


if __name__ == "__main__":
    main()
