"""What the in-process benchmarks share: a WSGI environ for a request served by Django's handler in
the benchmark's own process, the environment a child runs one service in, the per-step measuring
of a service's share of an order, and a child run under valgrind's callgrind, whose instruction
count does not move with the machine's load (bench/tracing_cost.py, catalog_profile.py,
catalog_saga.py, orders_cost.py, payments_cost.py, delivery_cost.py)."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.catalog_list import ROOT

_COLLECTED = re.compile(r"Collected : (\d+)")


def service_env(
    service: str, database_url: str, *, settings: str = "config.settings.local", **extra: str
) -> dict[str, str]:
    """The environment a benchmark's child runs `service` in, on its own database: no debug, no
    tracing (the local default writes every span to a file), no warnings, the project importable;
    `extra` settings on top."""
    return {
        **os.environ,
        "SERVICE": service,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": settings,
        "DJANGO_DEBUG": "0",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
        "TRACING_EXPORTER": "none",
        **extra,
    }


def measure_steps(
    names: Sequence[str],
    steps: Callable[[], Sequence[Callable[[int], None]]],
    *,
    warm_up: int,
    orders: int,
    limit: int,
    count_queries: bool,
) -> None:
    """In a set-up child: `warm_up` orders through every step, then `orders` measured ones through
    the first `limit` steps; prints (JSON) each step's commonest round-trip count with
    `count_queries` (the statements of the first measured order to stderr), else its median CPU
    time in ms on this thread. BENCH_PROFILE (a path) keeps cProfile's stats of the measured orders."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    for index in range(warm_up):
        for step in steps():
            step(index)
    queries: dict[str, list[int]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    profile = os.environ.get("BENCH_PROFILE")
    if profile:
        import cProfile

        profiler = cProfile.Profile(time.thread_time)  # CPU, not the waits for PostgreSQL
        profiler.enable()
    for index in range(warm_up, warm_up + orders):
        for name, step in list(zip(names, steps(), strict=True))[:limit]:
            if count_queries:
                with CaptureQueriesContext(connections["default"]) as captured:
                    step(index)
                queries[name].append(len(captured.captured_queries))
                if index == warm_up:
                    statements = "\n".join(query["sql"][:200] for query in captured.captured_queries)
                    sys.stderr.write(f"--- {name}\n{statements}\n")
            else:
                started = time.thread_time()
                step(index)
                cpu[name].append((time.thread_time() - started) * 1000)
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    # The commonest count: now and then a step also reloads what a process keeps for a while (the
    # pricing rules, ORDERS_PRICING_RULES_CACHE_SECONDS), which is not a per-order cost.
    measured: Mapping[str, Any] = (
        {name: statistics.mode(counts) for name, counts in queries.items() if counts}
        if count_queries
        else {name: statistics.median(times) for name, times in cpu.items() if times}
    )
    print(json.dumps(measured))


def wsgi_environ(method: str, path: str, *, body: bytes = b"", **extra: str) -> dict[str, Any]:
    """The environ of `method path` (a query string after `?`) from 127.0.0.1, asking for JSON;
    `extra` adds or replaces keys (CONTENT_TYPE, HTTP_AUTHORIZATION, ...)."""
    path_info, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "application/json",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        **({"CONTENT_LENGTH": str(len(body))} if body else {}),
        **extra,
    }


class CallgrindFailed(RuntimeError):
    pass


def callgrind(argv: list[str], env: dict[str, str], *, timeout: float = 3600) -> tuple[int, str]:
    """(instructions counted, stdout) of `argv` run under callgrind from the project's root, every
    thread of the process counted; CallgrindFailed with the end of its output if it failed."""
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    collected = _COLLECTED.search(run.stderr)
    if run.returncode or not collected:
        raise CallgrindFailed(f"{' '.join(argv[1:])}: the callgrind run failed:\n{run.stderr[-3000:]}")
    return int(collected.group(1)), run.stdout


def steps_child_argv(module: str, orders: int, steps: int, *, count_queries: bool = False) -> list[str]:
    """The command of `module`'s child measuring `orders` orders through its first `steps` steps."""
    argv = [sys.executable, "-m", module, "--child", str(orders), "--steps", str(steps)]
    return [*argv, "--count-queries"] if count_queries else argv


def steps_instructions(module: str, env: dict[str, str], orders: int, steps: int) -> int:
    """Instructions of one run of `module`'s child under callgrind (steps_child_argv)."""
    counted, output = callgrind(steps_child_argv(module, orders, steps), env, timeout=7200)
    if "done" not in output:
        raise CallgrindFailed(f"the callgrind run ({orders} orders, {steps} steps) did not finish its orders")
    return counted


def add_step_arguments(parser: argparse.ArgumentParser, *, database: str, steps: int) -> None:
    """The options every per-step benchmark (orders_cost.py, payments_cost.py) takes, its step
    child's hidden ones included."""
    parser.add_argument("--orders", type=int, default=30, help="measured orders per run")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--no-callgrind", action="store_true", help="query counts and CPU times only")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each step's first order")
    parser.add_argument("--database", default=database, help="the scratch database's name (dropped first)")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=steps, help=argparse.SUPPRESS)
    parser.add_argument("--count-queries", action="store_true", help=argparse.SUPPRESS)
