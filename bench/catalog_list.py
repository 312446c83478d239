"""Benchmark: the catalog product list against a bare Django JSON view, served by the same
gunicorn in the same run (SERVICE=catalog, PostgreSQL), loaded from this process over keep-alive
connections to 127.0.0.1 only (bench/loadgen.py; or, for the peak phases, by `wrk` with
--load-generator wrk). Bounded: every phase has a duration and the server is stopped at
the end.

    .venv/bin/python -m bench.catalog_list [--duration 10] [--connections 8] [--workers 2]
        [--rounds 5] [--load-generator python|wrk]

Steps: create (drop first) the database shopstack_bench_catalog, migrate it, seed_demo (1,000
products, 3,000 SKUs, timed), VACUUM ANALYZE, start gunicorn on 127.0.0.1, then
  1. peak (closed loop): bare view and product list (page of 20), alternating in --rounds
     slices so that other work on the machine weighs on both alike: requests/s, p50, p99;
  2. the list at a fixed offered rate of half the bare peak (open loop, latency measured from
     each request's scheduled start so queueing counts), and at half its own peak;
  3. the same half-bare rate spread over every category page in every ordering (104 URLs),
     warmed first, for three times --duration;
each phase with the server's CPU (gunicorn master and workers) and PostgreSQL's (the backends
connected to the bench database) per answered request, read from /proc; and print the targets:
issue #4's (list >= 35% of the bare rate; p99 < 50 ms at half the bare peak rate) and issue
#18's (list >= 50% of the bare rate; category pages answered at the half-bare rate, p99 < 100 ms).
All of that twice: without a response cache (local settings), then with
CATALOG_RESPONSE_CACHE_SECONDS=15, production's default (--response-cache-seconds; 0 skips it).
With --tracing, instead: the uncached list from three servers started side by side, tracing off
(TRACING_EXPORTER=none), on at 100 % and on at 10 % (parentbased_traceidratio, OTLP/HTTP to a
local stand-in collector, bench/otlp_sink.py), loaded in alternating --rounds slices (the order
rotating each round), the three started afresh --server-sets times (one process is not a sample of
its configuration), and the cost of each against off; --control adds a second tracing-off server.
Results and how to read them: docs/benchmarks.md.
Needs PostgreSQL at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)."""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench.loadgen import Result, closed_loop, merged, open_loop
from bench.proc_cpu import process_cpu_seconds, process_group_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DATABASE = "shopstack_bench_catalog"
BARE_PATH = "/bench/bare/"
LIST_PATH = "/api/v1/catalog/products/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def prepare_database(admin_url: str, name: str = DATABASE) -> str:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return _database_url(admin_url, name)


def drop_database(admin_url: str, name: str = DATABASE) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=600)
    return time.perf_counter() - started


def wait_until_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health/live")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up in time")


# Lua for wrk. setup() runs for each wrk thread (one connection each) before it starts: a 5 ms
# pause between them lets gunicorn's workers take turns accepting, where wrk's usual burst of
# connects often landed all or all but one on a single worker (measured: 8/0 and 7/1 splits,
# with half the bare rate). done() prints the totals, then the latency histogram (microseconds,
# count) so that rounds merge into exact percentiles.
WRK_SCRIPT = """
setup = function(thread)
  local started = os.clock()
  while os.clock() - started < 0.005 do end
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("wrk-total %d %d %d\\n", summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("wrk-latency %d %d\\n", value, count))
  end
end
"""


def run_wrk(name: str, port: int, path: str, *, connections: int, duration: float) -> Result:
    """Closed loop from wrk (`connections` keep-alive connections, one per wrk thread): it needs
    a fraction of the CPU the Python generator does, leaving more to the server. Whole seconds
    only (wrk's --duration)."""
    seconds = max(1, round(duration))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT)
        script.flush()
        output = subprocess.run(
            [
                "wrk",
                "--threads",
                str(connections),
                "--connections",
                str(connections),
                "--duration",
                f"{seconds}s",
                "--timeout",
                "10s",
                "--header",
                "Accept: application/json",
                "--script",
                script.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
    return parse_wrk_report(name, output)


def parse_wrk_report(name: str, output: str) -> Result:
    """The Result in what WRK_SCRIPT's done() printed (wrk's own summary lines are ignored)."""
    requests = errors = 0
    elapsed = 0.0
    latencies: list[float] = []
    for line in output.splitlines():
        kind, *numbers = line.split() or [""]
        if kind == "wrk-total":
            requests, elapsed, errors = int(numbers[0]), int(numbers[1]) / 1e6, int(numbers[2])
        elif kind == "wrk-latency":
            latencies.extend([int(numbers[0]) / 1e6] * int(numbers[1]))
    if not elapsed:
        raise RuntimeError(f"wrk printed no report:\n{output}")
    return Result(name, requests, errors, elapsed, latencies)


def start_server(
    env: dict[str, str], port: int, args: argparse.Namespace, *, fixed_layout: bool = False
) -> subprocess.Popen:
    """A gunicorn of the catalog on `port`; with `fixed_layout`, its address space not randomized
    (setarch -R, where the kernel allows it), so servers started alike lay out their memory alike."""
    layout = ["setarch", platform.machine(), "-R"] if fixed_layout and shutil.which("setarch") else []
    server = subprocess.Popen(
        [
            *layout,
            str(VENV_BIN / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.worker_threads),
            "--keep-alive",
            "10",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    wait_until_up(port, time.monotonic() + 60)
    return server


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


ACCEPT_JSON = {"Accept": "application/json"}
SHOPPER_ORDERINGS = ("name", "price", "-price", "newest")


def peak(name: str, port: int, path: str, args: argparse.Namespace, duration: float) -> Result:
    if args.load_generator == "wrk":
        return run_wrk(name, port, path, connections=args.connections, duration=duration)
    return closed_loop(name, port, path, connections=args.connections, duration=duration, headers=ACCEPT_JSON)


def shop_pages(database_url: str) -> list[str]:
    """The list as a shop's category pages ask for it: every category, in every ordering a shopper
    can choose (26 x 4 = 104 distinct URLs after seed_demo), each with the category filter."""
    with psycopg.connect(database_url) as connection:
        slugs = [slug for (slug,) in connection.execute("SELECT slug FROM catalog_category ORDER BY slug")]
    return [f"{LIST_PATH}?category={slug}&ordering={ordering}" for slug in slugs for ordering in SHOPPER_ORDERINGS]


class CpuMeter:
    """CPU seconds the server (its process group) and PostgreSQL (the backends connected to the
    bench database: persistent connections, so the same backends throughout) spent in a phase."""

    def __init__(self, server: subprocess.Popen, database_url: str) -> None:
        self.server = server
        self.database_url = database_url

    def read(self) -> tuple[float, float]:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            pids = [
                pid
                for (pid,) in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ]
        return process_group_cpu_seconds(self.server.pid), sum(process_cpu_seconds(pid) for pid in pids)

    def run(self, phase: Callable[[], Result]) -> tuple[Result, float, float]:
        """The phase's result and the server's and PostgreSQL's CPU per answered request (s)."""
        server_before, postgres_before = self.read()
        result = phase()
        server_after, postgres_after = self.read()
        answered = max(result.requests - result.errors, 1)
        return result, (server_after - server_before) / answered, (postgres_after - postgres_before) / answered


def cpu_note(server_cpu: float, postgres_cpu: float) -> str:
    return f"   CPU/request: server {server_cpu * 1e3:.2f} ms, PostgreSQL {postgres_cpu * 1e3:.2f} ms"


def measure(label: str, port: int, args: argparse.Namespace, pages: list[str], meter: CpuMeter) -> None:
    print(f"--- {label}")
    for path in (BARE_PATH, LIST_PATH):  # warm up: connections, imports, caches
        closed_loop("warm-up", port, path, connections=args.connections, duration=2, headers=ACCEPT_JSON)
    # The two peaks alternate in short slices: a burst of other work on this shared machine
    # then lowers both instead of only whichever phase it fell in.
    bare_rounds, list_rounds = [], []
    cpu = {"bare": [0.0, 0.0], "list": [0.0, 0.0]}
    for _ in range(args.rounds):
        for name, path, rounds in (("bare", BARE_PATH, bare_rounds), ("list", LIST_PATH, list_rounds)):
            result, server_cpu, postgres_cpu = meter.run(
                lambda name=name, path=path: peak(name, port, path, args, args.duration / args.rounds)
            )
            rounds.append(result)
            answered = result.requests - result.errors
            cpu[name][0] += server_cpu * answered
            cpu[name][1] += postgres_cpu * answered
    bare = merged("bare JSON view, peak", bare_rounds)
    listing = merged("product list (20/page), peak", list_rounds)
    for name, result in (("bare", bare), ("list", listing)):
        answered = max(result.requests - result.errors, 1)
        print(result.line() + cpu_note(cpu[name][0] / answered, cpu[name][1] / answered))
    if args.rounds > 1:
        by_round = " ".join(
            f"{one.rate / other.rate:.0%}" for one, other in zip(list_rounds, bare_rounds, strict=True) if other.rate
        )
        print(f"list / bare by round: {by_round}")
    paced = {}
    for name, rate in (("1/2 bare", bare.rate / 2), ("1/2 own", listing.rate / 2)):
        paced[name] = open_loop(
            f"product list @ {rate:.0f} req/s ({name})",
            port,
            LIST_PATH,
            rate=rate,
            duration=args.duration,
            headers=ACCEPT_JSON,
        )
        print(paced[name].line())
    # The same rate spread over the shop's category pages: filtered queries (the queryset path,
    # plus the category tree). Warmed first, as a running shop's pages are, and three times as
    # long as the other phases, so that a response cache's answers go stale and are refreshed
    # in it (at production's 15 s, each within 11-15 s of its render).
    open_loop("warm-up", port, pages, rate=len(pages) * 4, duration=2, headers=ACCEPT_JSON)
    spread, server_cpu, postgres_cpu = meter.run(
        lambda: open_loop(
            f"{len(pages)} category pages @ {bare.rate / 2:.0f} req/s (1/2 bare)",
            port,
            pages,
            rate=bare.rate / 2,
            duration=3 * args.duration,
            headers=ACCEPT_JSON,
        )
    )
    print(spread.line() + cpu_note(server_cpu, postgres_cpu))
    ratio = listing.rate / bare.rate if bare.rate else 0.0
    p99 = paced["1/2 bare"].percentile(0.99)
    print(f"list / bare rate: {ratio:.0%} (#4 target >= 35%: {_met(ratio >= 0.35)}; #18 target >= 50%: ", end="")
    print(f"{_met(ratio >= 0.5)}); list p99 at half the bare peak rate: {p99:.1f} ms ", end="")
    print(f"(#4 target < 50 ms: {_met(p99 < 50)})")
    pages_p99 = spread.percentile(0.99)
    held = spread.rate >= 0.95 * bare.rate / 2
    print(
        f"category pages at half the bare rate: {spread.rate / bare.rate if bare.rate else 0.0:.0%} of bare answered, "
        f"p99 {pages_p99:.1f} ms (#18 target: rate held and p99 < 100 ms: {_met(held and pages_p99 < 100)})\n"
    )


def _met(condition: bool) -> str:
    return "met" if condition else "NOT met"


def tracing_modes(
    sink_port: int, *, sampled: tuple[float, ...] = (100, 10), control: bool = False
) -> list[tuple[str, dict[str, str]]]:
    """Tracing off, and on at each of the `sampled` percentages of traces, exporting as production
    does (OTLP/HTTP); with `control`, a second server with tracing off, whose difference from the
    first is what the measure itself reads between two identical servers."""
    on = {
        "TRACING_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    }
    modes = [("tracing off", {"TRACING_EXPORTER": "none"})]
    modes += [
        (f"tracing on, {percent:g} %", {**on, "OTEL_TRACES_SAMPLER_ARG": str(percent / 100)}) for percent in sampled
    ]
    if control:
        modes.append(("tracing off, again", {"TRACING_EXPORTER": "none"}))
    return modes


@dataclass
class TracingLoad:
    """What one server (one mode) answered over its slices, and the CPU its processes spent."""

    slices: list[Result] = field(default_factory=list)
    server_cpu: float = 0.0

    def add(self, other: TracingLoad) -> None:
        self.slices += other.slices
        self.server_cpu += other.server_cpu

    @property
    def answered(self) -> int:
        return max(sum(one.requests - one.errors for one in self.slices), 1)

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / self.answered


def load_servers(
    servers: dict[str, subprocess.Popen], ports: dict[str, int], args: argparse.Namespace, slice_seconds: float
) -> dict[str, TracingLoad]:
    """The uncached list's peak from each server, in alternating slices whose order rotates each
    round (a burst of other work on the machine, or a warmer cache, favours none), and each
    server's own CPU over those slices."""
    labels = list(ports)
    for label in labels:
        closed_loop("warm-up", ports[label], LIST_PATH, connections=args.connections, duration=2, headers=ACCEPT_JSON)
    loads = {label: TracingLoad() for label in labels}
    for index in range(args.rounds):
        for label in labels[index % len(labels) :] + labels[: index % len(labels)]:
            cpu_before = process_group_cpu_seconds(servers[label].pid)
            loads[label].slices.append(peak(label, ports[label], LIST_PATH, args, slice_seconds))
            loads[label].server_cpu += process_group_cpu_seconds(servers[label].pid) - cpu_before
    return loads


def run_tracing(env: dict[str, str], args: argparse.Namespace) -> None:
    """Each mode's server started afresh for each of --server-sets sets and loaded in its slices.

    Fresh processes per set because one process is not a sample of its configuration: its memory
    layout and hash seed shift its CPU per request by several percent for its whole life, which
    two servers of one run, compared once, cannot tell from what tracing costs (pyperf spawns
    many processes for the same reason). The figures pool the sets; the per-set costs show the
    spread."""
    sink_port = _free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.otlp_sink", str(sink_port)], cwd=ROOT)
    modes = tracing_modes(sink_port, sampled=tuple(args.sampled), control=args.control)
    slice_seconds = args.duration / (args.rounds * args.server_sets)
    totals = {label: TracingLoad() for label, _ in modes}
    per_set: list[dict[str, TracingLoad]] = []
    try:
        for _ in range(args.server_sets):
            # Within a set every mode's server has the same hash seed and an unrandomized layout,
            # so the set compares modes, not two draws of a process's luck; the sets differ.
            paired = {**env, "PYTHONHASHSEED": str(secrets.randbelow(2**32 - 1) + 1)}
            # Started in a new order each set: the server started first read about 2 % more CPU
            # a request than its twin in every set when the order was fixed (the control).
            started = secrets.SystemRandom().sample(modes, len(modes))
            servers: dict[str, subprocess.Popen] = {}
            try:
                ports: dict[str, int] = {}
                for label, extra in started:
                    ports[label] = _free_port()
                    servers[label] = start_server({**paired, **extra}, ports[label], args, fixed_layout=True)
                loads = load_servers(servers, ports, args, slice_seconds)
            finally:
                for server in servers.values():
                    stop_server(server)
            per_set.append(loads)
            for label, load in loads.items():
                totals[label].add(load)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    report_tracing(totals, per_set)


def report_tracing(totals: dict[str, TracingLoad], per_set: list[dict[str, TracingLoad]]) -> None:
    labels = list(totals)
    off = totals[labels[0]]
    off_rate = merged("", off.slices).rate
    for label, load in totals.items():
        line = merged(f"product list, {label}", load.slices).line()
        print(f"{line}   server CPU {load.cpu_per_request * 1e3:.2f} ms/request")
    for label in labels[1:]:
        load = totals[label]
        cpu_cost = load.cpu_per_request / off.cpu_per_request - 1
        throughput_change = merged("", load.slices).rate / off_rate - 1 if off_rate else float("nan")
        by_set = " ".join(
            f"{loads[label].cpu_per_request / loads[labels[0]].cpu_per_request - 1:+.1%}" for loads in per_set
        )
        target = f" (target <= 5 %: {_met(cpu_cost <= 0.05)})" if label.endswith("10 %") else ""
        print(
            f"{label}: server CPU per request {cpu_cost:+.1%} against tracing off{target}; "
            f"throughput {throughput_change:+.1%}; CPU by server set: {by_set}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections at peak")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--worker-threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="slices the two peak phases alternate in (each gets --duration in all)"
    )
    parser.add_argument(
        "--load-generator",
        choices=("python", "wrk"),
        default="python",
        help="what loads the peak phases: bench/loadgen.py in this process, or wrk (apt-get install wrk); "
        "the fixed-rate phases are always this process (wrk cannot hold a rate)",
    )
    parser.add_argument(
        "--response-cache-seconds",
        type=int,
        default=15,
        help="second run with CATALOG_RESPONSE_CACHE_SECONDS set to this (0: skip that run)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="only the tracing overhead: the uncached list with tracing off, at 100 %% and at 10 %%",
    )
    parser.add_argument(
        "--server-sets",
        type=int,
        default=5,
        help="with --tracing: how many times each mode's server is started afresh (--duration is shared among them)",
    )
    parser.add_argument(
        "--sampled",
        type=float,
        nargs="+",
        default=[100, 10],
        metavar="PERCENT",
        help="with --tracing: the sampling percentages to run beside tracing off (default: 100 10)",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="with --tracing: a second tracing-off server, to read the measure's own spread",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.server_sets < 1:
        parser.error("--rounds and --server-sets must be at least 1")
    if args.load_generator == "wrk" and shutil.which("wrk") is None:
        parser.error("--load-generator wrk needs wrk on PATH (Debian: apt-get install wrk)")

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    database_url = prepare_database(admin_url)
    env = {
        **{key: value for key, value in os.environ.items() if key != "CATALOG_RESPONSE_CACHE_SECONDS"},
        "SERVICE": "catalog",
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        # Kept after the project: lets a run try a package not in the venv (docs/benchmarks.md).
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        # The local default writes every span to a file; the figures above are the shop's own.
        "TRACING_EXPORTER": "none",
    }
    modes = [("no response cache (local settings)", {})]
    if args.response_cache_seconds:
        cached = {"CATALOG_RESPONSE_CACHE_SECONDS": str(args.response_cache_seconds)}
        modes.append((f"response cache {args.response_cache_seconds}s (production's default)", cached))
    server = None
    try:
        manage(env, "migrate", "--verbosity", "0")
        seed_seconds = manage(env, "seed_demo", "--verbosity", "0")
        print(f"seed_demo (1,000 products, 3,000 SKUs) on PostgreSQL: {seed_seconds:.1f}s including startup")
        # Planner statistics, as a live database has them: without them autovacuum's analyse came
        # at some moment of the run, and category pages were planned otherwise until then.
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        pages = shop_pages(database_url)
        generator = "wrk," if args.load_generator == "wrk" else "Python,"
        print(
            f"gunicorn: {args.workers} workers x {args.worker_threads} threads (gthread); peak load: {generator} "
            f"{args.connections} connections, {args.rounds} alternating rounds; {os.cpu_count()} cores shared by "
            f"server, PostgreSQL and load generator; {args.duration:.0f}s per phase\n"
        )
        if args.tracing:
            print(
                f"tracing overhead, uncached list: {1 + len(args.sampled) + args.control} servers x "
                f"{args.workers} workers x {args.worker_threads} threads, started afresh {args.server_sets} times\n"
            )
            run_tracing(env, args)
            modes = []
        for label, extra in modes:
            port = _free_port()
            server = start_server({**env, **extra}, port, args)
            measure(label, port, args, pages, CpuMeter(server, database_url))
            stop_server(server)
            server = None
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep_db:
            drop_database(admin_url)


if __name__ == "__main__":
    main()
