"""In-process cost of catalog requests: the Django test client in a loop against a seeded
PostgreSQL database, this process's CPU per request (PostgreSQL's not counted), and optionally a
cProfile of the last path. Steadier than a load test on a shared machine (no server, no load
generator, no GIL hand-overs between threads), and it says where the Python time goes.

    .venv/bin/python -m bench.catalog_profile [--requests 1500] [--profile cumtime|tottime] [PATH ...]

Default paths: the bare view, the landing page and two category pages (a parent category and a
leaf). It creates (drops first) the database shopstack_bench_catalog_profile, migrates it and
loads seed_demo, then runs itself again with SERVICE=catalog and the benchmark's settings
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

from bench.catalog_list import ROOT, VENV_BIN, _database_url, manage

DATABASE = "shopstack_bench_catalog_profile"
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
    from django.test import Client

    client = Client(HTTP_ACCEPT="application/json")
    for path in paths:
        for _ in range(200):  # warm: imports, compiled SQL, prepared statements
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]!r}")
        started = time.process_time()
        for _ in range(requests):
            client.get(path)
        print(f"{path:<66} {(time.process_time() - started) / requests * 1e3:6.3f} ms CPU/request")
    if profile:
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(requests):
            client.get(paths[-1])
        profiler.disable()
        pstats.Stats(profiler).sort_stats(profile).print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=list(DEFAULT_PATHS))
    parser.add_argument("--requests", type=int, default=1500, help="timed requests per path")
    parser.add_argument("--profile", choices=("cumtime", "tottime"), help="cProfile the last path, sorted so")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.paths, args.requests, args.profile)
        return
    import psycopg

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    env = {
        **os.environ,
        "SERVICE": "catalog",
        "DATABASE_URL": _database_url(admin_url, DATABASE),
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
        child = [str(VENV_BIN / "python"), "-m", "bench.catalog_profile", "--child", "--requests", str(args.requests)]
        if args.profile:
            child += ["--profile", args.profile]
        subprocess.run([*child, *args.paths], cwd=ROOT, env=env, check=True, timeout=1800)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
