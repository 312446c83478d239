"""Benchmark: what tracing costs the catalog product list, in instructions counted by valgrind's
callgrind: the same count whatever else the machine is doing, where the served benchmark
(bench/catalog_list.py --tracing) swings with it.

    .venv/bin/python -m bench.tracing_cost [--requests 400] [--jobs 2]

Each mode (tracing off; on at 0 %, 10 % and 100 % with parentbased_traceidratio; 100 % with the
export left out) serves the uncached list in process through Django's WSGI handler, exporting
OTLP/HTTP to the stand-in collector (bench/otlp_sink.py), twice under callgrind: after 50 warm-up
requests, 0 and then --requests more. The difference over --requests is one request's
instructions, every thread of the process counted (the batch export's too), start-up and warm-up
cancelled out. Served alike: the environ as gunicorn passes it, the start-up objects frozen after
the warm-up (apps.core.startup), spans posted in full batches (the batch timer held off), one hash
seed. Without gunicorn, the base leaves out a served request's HTTP handling (about half
its CPU), so the ratios printed are higher than a served request's. The sampler is random: the
10 % line gives the share it recorded, and the cost an exact 10 % would have, from the 0 % and
100 % lines. Needs valgrind (Debian package) and PostgreSQL as bench/catalog_list.py does; its
database is shopstack_bench_tracing, dropped at the end."""

from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.catalog_list import LIST_PATH, ROOT, VENV_BIN, _free_port, drop_database, manage, prepare_database
from bench.inprocess import CallgrindFailed, callgrind, wsgi_environ

DATABASE = "shopstack_bench_tracing"
WARM_UP = 50
_RECORDED = re.compile(r"recorded (\d+)")


@dataclass(frozen=True)
class Mode:
    label: str
    sampled: str | None  # OTEL_TRACES_SAMPLER_ARG; None: tracing off
    export: bool = True


MODES = (
    Mode("tracing off", None),
    Mode("on, 0 %", "0.0"),
    Mode("on, 10 %", "0.1"),
    Mode("on, 100 %", "1.0"),
    Mode("on, 100 %, no export", "1.0", export=False),
)


def serve_in_process(requests: int, export: bool) -> None:
    """The child: WARM_UP + `requests` list requests through the WSGI handler, then every span
    exported; prints how many server spans were recorded."""
    import django
    from django.core.handlers.wsgi import WSGIHandler

    django.setup()
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import SpanKind

    provider = trace.get_tracer_provider()
    recorded = 0

    class CountServerSpans(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            nonlocal recorded
            recorded += span.kind is SpanKind.SERVER

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    if isinstance(provider, TracerProvider):
        provider.add_span_processor(CountServerSpans())
        if not export:
            # The batch processor's exporter, swapped: spans are made, queued and batched as
            # deployed, then not encoded or sent.
            batch = provider._active_span_processor._span_processors[0]
            batch._batch_processor._exporter = Discard()
    app = WSGIHandler()

    def serve(count: int) -> None:
        for _ in range(count):
            # As gunicorn passes a request: the raw target, the caller's port, a user agent.
            environ = wsgi_environ(
                "GET", LIST_PATH, RAW_URI=LIST_PATH, REMOTE_PORT="51234", HTTP_USER_AGENT="bench.tracing_cost"
            )
            body = app(environ, lambda status, headers: None)
            b"".join(body)
            body.close()

    serve(WARM_UP)
    # As a served process does once started: a full collection walking the start-up objects,
    # falling in one run's window and not another's, moved counts by up to 9 %.
    gc.collect()
    gc.freeze()
    serve(requests)
    if isinstance(provider, TracerProvider):
        provider.force_flush()
    print(f"recorded {recorded}")


def instructions(env: dict[str, str], mode: Mode, requests: int) -> tuple[int, int]:
    """(instructions, server spans recorded) of one child run under callgrind."""
    argv = [str(VENV_BIN / "python"), "-m", "bench.tracing_cost", "--child", str(requests)]
    if not mode.export:
        argv.append("--no-export")
    child_env = dict(env)
    if mode.sampled is None:
        child_env["TRACING_EXPORTER"] = "none"
    else:
        child_env.update(
            TRACING_EXPORTER="otlp",
            OTEL_TRACES_SAMPLER="parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG=mode.sampled,
            # Under callgrind a run lasts minutes, so the batch processor's 5 s timer would post a
            # few spans at a time, where a served process posts full batches.
            OTEL_BSP_SCHEDULE_DELAY="3600000",
        )
    counted, output = callgrind(argv, child_env)
    recorded = _RECORDED.search(output)
    if not recorded:
        raise CallgrindFailed(f"{mode.label}: the child did not say how many spans it recorded")
    return counted, int(recorded.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="measured requests per mode")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs at once")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-export", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        serve_in_process(args.child, export=not args.no_export)
        return

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    sink = subprocess.Popen([sys.executable, "-m", "bench.otlp_sink", str(sink_port := _free_port())], cwd=ROOT)
    try:
        env = {
            **os.environ,
            "SERVICE": "catalog",
            "DATABASE_URL": prepare_database(admin_url, DATABASE),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "DATABASE_CONN_MAX_AGE": "600",
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
            "PYTHONHASHSEED": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "TRACING_EXPORTER": "none",
        }
        manage(env, "migrate", "--verbosity", "0")
        manage(env, "seed_demo", "--verbosity", "0")
        runs = [(mode, count) for mode in MODES for count in (0, args.requests)]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            counted = list(pool.map(lambda run: instructions(env, *run), runs))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        if not args.keep_db:
            drop_database(admin_url, DATABASE)

    per_request: dict[str, float] = {}
    print(f"instructions per product-list request, in process, {args.requests} requests after {WARM_UP} warm-up")
    for index, mode in enumerate(MODES):
        (base, _), (total, recorded) = counted[2 * index], counted[2 * index + 1]
        per_request[mode.label] = (total - base) / args.requests
        cost = per_request[mode.label] / per_request["tracing off"] - 1
        share = f"; {recorded / (WARM_UP + args.requests):.1%} of requests recorded" if mode.sampled else ""
        print(f"{mode.label:>22}: {per_request[mode.label] / 1e6:6.3f} M ({cost:+.1%} against off{share})")
    none, every = per_request["on, 0 %"], per_request["on, 100 %"]
    exact = (none + 0.1 * (every - none)) / per_request["tracing off"] - 1
    print(f"an exact 10 %, from the 0 % and 100 % lines: {exact:+.1%} against off")


if __name__ == "__main__":
    main()
