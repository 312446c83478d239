"""In-process cost of catalog requests: the Django test client in a loop against a seeded
PostgreSQL database, this process's CPU per request and its PostgreSQL backend's (read from
/proc in 10 ms ticks: a few per cent), and optionally a cProfile of the last path. Steadier than
a load test on a shared machine (no server, no load generator, no GIL hand-overs between threads),
and it says where the Python time goes.

    .venv/bin/python -m bench.catalog_profile [--requests 1500] [--profile cumtime|tottime] [PATH ...]
    .venv/bin/python -m bench.catalog_profile --instructions [--requests 300] [--jobs 2] [PATH ...]

With --instructions, instead: each path served through Django's WSGI handler (as gunicorn calls
it, without gunicorn's own HTTP work) twice under valgrind's callgrind, after 200 warm-up requests,
0 and then --requests more; the difference over --requests is one request's instructions, the same
count whatever else the machine is doing (as bench/tracing_cost.py counts). Needs valgrind.

Default paths: the bare view, the landing page and two category pages (a parent category and a
leaf). It creates (drops first) the database shopstack_bench_catalog_profile, migrates it and
loads seed_demo (then VACUUM ANALYZE), then runs itself again with SERVICE=catalog and the benchmark's settings
(bench.settings: the local settings plus the bare view), and drops the database at the end.
Needs PostgreSQL at BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)."""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.catalog_list import ROOT, VENV_BIN, _database_url, manage
from bench.inprocess import callgrind, wsgi_environ

DATABASE = "shopstack_bench_catalog_profile"
WARM_UP = 200
DEFAULT_PATHS = (
    "/bench/bare/",
    "/api/v1/catalog/products/",
    "/api/v1/catalog/products/?category=clothing&ordering=price",
    "/api/v1/catalog/products/?category=shoes-boots&ordering=newest",
)


def measure(paths: list[str], requests: int, profile: str | None) -> None:
    """Runs inside the configured child process."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from bench.proc_cpu import process_cpu_seconds

    client = Client(HTTP_ACCEPT="application/json")
    for path in paths:
        for _ in range(WARM_UP):  # warm: imports, compiled SQL, prepared statements
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
        # PostgreSQL's side: the CPU of the backend serving this process's (kept) connection.
        connection.ensure_connection()
        backend = connection.connection.info.backend_pid
        backend_started, started = process_cpu_seconds(backend), time.process_time()
        for _ in range(requests):
            client.get(path)
        cpu = (time.process_time() - started) / requests * 1e3
        same_backend = connection.connection is not None and connection.connection.info.backend_pid == backend
        postgres = (process_cpu_seconds(backend) - backend_started) / requests * 1e3 if same_backend else float("nan")
        print(f"{path:<66} {cpu:6.3f} ms CPU/request, PostgreSQL {postgres:6.3f} ms")
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(requests):
            client.get(paths[-1])
        profiler.disable()
        pstats.Stats(profiler).sort_stats(profile).print_stats(40)


def serve_in_process(path: str, requests: int) -> None:
    """Runs inside the configured child process, under callgrind: WARM_UP + `requests` GETs of
    `path` through the WSGI handler."""

    import django
    from django.core.handlers.wsgi import WSGIHandler

    django.setup()
    app = WSGIHandler()
    statuses = []
    for _ in range(WARM_UP + requests):
        body = app(wsgi_environ("GET", path), lambda status, headers: statuses.append(status))
        b"".join(body)
        body.close()
    if statuses[-1] != "200 OK":
        raise SystemExit(f"{path} answered {statuses[-1]}")


def instructions(env: dict[str, str], path: str, requests: int) -> int:
    """Instructions of one child run under callgrind (every thread of the process)."""
    argv = [str(VENV_BIN / "python"), "-m", "bench.catalog_profile", "--child-wsgi", "--requests", str(requests), path]
    return callgrind(argv, env)[0]


def count_instructions(env: dict[str, str], paths: list[str], requests: int, jobs: int) -> None:
    runs = [(path, count) for path in paths for count in (0, requests)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        counted = list(pool.map(lambda run: instructions(env, *run), runs))
    print(f"instructions per request, in process (WSGI handler), {requests} requests after {WARM_UP} warm-up")
    baseline = None
    for index, path in enumerate(paths):
        per_request = (counted[2 * index + 1] - counted[2 * index]) / requests
        baseline = baseline or per_request
        print(f"{path:<66} {per_request / 1e6:7.3f} M ({per_request / baseline:5.2f} x the first)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    parser.add_argument("--requests", type=int, help="timed requests per path (1500; 300 with --instructions)")
    parser.add_argument("--profile", choices=("cumtime", "tottime"), help="cProfile the last path, sorted so")
    parser.add_argument("--instructions", action="store_true", help="count instructions with callgrind instead")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once (--instructions)")
    parser.add_argument("--database", default=DATABASE, help="the database to create, use and drop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-wsgi", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests is None:
        args.requests = 300 if args.instructions else 1500
    if args.child:
        measure(args.paths, args.requests, args.profile)
        return
    if args.child_wsgi:
        serve_in_process(args.paths[0], args.requests)
        return
    import psycopg

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.database}"')
    env = {
        **os.environ,
        "SERVICE": "catalog",
        "DATABASE_URL": _database_url(admin_url, args.database),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "600",
        "TRACING_EXPORTER": "none",
        "CATALOG_RESPONSE_CACHE_SECONDS": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    try:
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "seed_demo", "--verbosity", "0")
        # Planner statistics, as a live database has them (autovacuum's would come at any moment).
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        if args.instructions:
            count_instructions({**env, "PYTHONWARNINGS": "ignore"}, args.paths, args.requests, args.jobs)
            return
        child = [str(VENV_BIN / "python"), "-m", "bench.catalog_profile", "--child", "--requests", str(args.requests)]
        if args.profile:
            child += ["--profile", args.profile]
        subprocess.run([*child, *args.paths], cwd=ROOT, env=env, check=True, timeout=1800)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
