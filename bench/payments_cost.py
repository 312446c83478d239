"""Benchmark: what one order costs the payments service's worker, step by step, in process:
database round trips (Django's CaptureQueriesContext), CPU time on the thread, and instructions
(valgrind's callgrind, which do not move with the machine's load).

    .venv/bin/python -m bench.payments_cost [--orders 30] [--jobs 2] [--no-callgrind]

The steps of one order on the split stack's payments worker (STACK_PAYMENTS_PROVIDER=sandbox), as
bench/checkout.py drives them: payment.requested, run as the worker runs it (the task
`apps.core.events.handle_event` called with the event's dictionary: envelope, inbox, handler,
outbox), which records the intent and sends the charge task; then that task
(`apps.payments.charge_payment`, called as the worker calls it, with the message's keyword
arguments) charging at the sandbox provider and recording the charge and payment.succeeded. The
task message is caught where Celery would send it (apply_async), not sent: SQS's SendMessage is
moto's work on the stack, not payments'. Each commit's relay pass runs in line after the commit
(EVENTS_RELAY_IN_BACKGROUND off: on the stack it is the relay thread's) and sends to a transport
that drops the messages (no SNS), so its claim and its UPDATE are counted in the step that
committed.

Round trips: one child process, --orders orders after a warm-up, the commonest count of each step
on payments' connection. CPU: another child, the median of each step's time.thread_time(). Instructions:
the child under callgrind three times after the same set-up and warm-up: no orders, then --orders
orders carried one step further each time; the difference between two runs over --orders is one
step's instructions, every thread of the process counted. Needs PostgreSQL at BENCH_POSTGRES_URL
(as bench/catalog_list.py) and, for instructions, valgrind; its database, shopstack_bench_payments,
is dropped at the end. Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.catalog_list import ROOT, drop_database, manage, prepare_database
from bench.inprocess import add_step_arguments, measure_steps, service_env, steps_child_argv, steps_instructions

DATABASE = "shopstack_bench_payments"
WARM_UP = 16
STEPS = ("payment.requested", "charge task")


class _Payments:
    """Drives the payments worker in this process; each method is one step of one order."""

    def __init__(self, count: int) -> None:
        from apps.payments.tasks import charge_payment

        self.task = charge_payment
        self.messages: list[dict[str, Any]] = []
        # Where the worker's handler hands the charge to SQS: the message's keyword arguments kept.
        charge_payment.apply_async = lambda args=None, kwargs=None, **options: self.messages.append(kwargs)
        self.run = uuid.uuid4().hex[:8]  # keys unique across the child runs sharing the database
        self.charges: list[dict[str, Any]] = [{}] * count

    def payment_requested(self, index: int) -> None:
        from apps.core.events import Envelope
        from apps.core.events.tasks import handle_event

        order_id = uuid.uuid4()
        payload = {
            "order_id": str(order_id),
            "order_number": f"SS-{self.run}-{index:05d}",
            "customer_id": str(uuid.uuid4()),
            "amount": "25.00",
            "currency": "EUR",
            "payment_method_token": "tok_success",
            "idempotency_key": f"order-{order_id}",
            "capture": "automatic",
            "pay_by": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            "retry_key_sha256": uuid.uuid4().hex * 2,
        }
        envelope = Envelope(type="payment.requested", producer="orders", payload=payload, trace_id=uuid.uuid4().hex)
        handle_event(envelope=envelope.to_dict())
        self.charges[index] = self.messages.pop()

    def charge_task(self, index: int) -> None:
        self.task(**self.charges[index])

    def steps(self) -> list:
        return [self.payment_requested, self.charge_task]


def _check(run: str, count: int) -> None:
    """Every order of this run was charged once: the benchmark measured the path that charges."""
    from apps.payments.models import Charge

    charged = Charge.objects.filter(intent__order_number__startswith=f"SS-{run}-", intent__status="succeeded").count()
    if charged != count:
        raise SystemExit(f"{charged} of {count} orders charged")


def child(orders: int, steps: int, count_queries: bool) -> None:
    import django

    django.setup()
    driver = _Payments(WARM_UP + orders)
    measure_steps(STEPS, driver.steps, warm_up=WARM_UP, orders=orders, limit=steps, count_queries=count_queries)
    if steps == len(STEPS):
        _check(driver.run, WARM_UP + orders)
    print("done")


def _child_argv(orders: int, steps: int, *, count_queries: bool = False) -> list[str]:
    return steps_child_argv("bench.payments_cost", orders, steps, count_queries=count_queries)


def instructions(env: dict[str, str], orders: int, steps: int) -> int:
    return steps_instructions("bench.payments_cost", env, orders, steps)


def _run_child(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if run.returncode:
        raise SystemExit(run.stderr[-3000:])
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_step_arguments(parser, database=DATABASE, steps=len(STEPS))
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.steps, args.count_queries)
        return

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    env = service_env(
        "payments",
        prepare_database(admin_url, args.database),
        LOG_FORMAT="json",
        DATABASE_CONN_MAX_AGE="86400",
        PAYMENTS_PROVIDER="sandbox",
        EVENT_TRANSPORT="bench.orders_cost.DroppingTransport",
        EVENTS_RELAY_IN_BACKGROUND="0",
        CELERY_BROKER_URL="memory://",
        TASKS_RUN_IN_PROCESS="0",
    )
    try:
        manage(env, "migrate", "--verbosity", "0")
        counted = _run_child(_child_argv(args.orders, len(STEPS), count_queries=True), env)
        if args.show_queries:
            print(counted.stderr)
        queries = json.loads(counted.stdout.splitlines()[-2])
        cpu_ms = json.loads(_run_child(_child_argv(args.orders, len(STEPS)), env).stdout.splitlines()[-2])
        per_step: dict[str, float] = {}
        if not args.no_callgrind:
            runs = [(0, len(STEPS))] + [(args.orders, steps) for steps in range(1, len(STEPS) + 1)]
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                totals = list(pool.map(lambda run: instructions(env, *run), runs))
            per_step = {name: (totals[n + 1] - totals[n]) / args.orders for n, name in enumerate(STEPS)}
    finally:
        if not args.keep_db:
            drop_database(admin_url, args.database)

    print(f"payments worker, per order ({args.orders} orders after {WARM_UP} warm-up), in process")
    print(f"{'step':>20}  {'round trips':>11}  {'CPU ms (median)':>15}  {'instructions':>14}")
    for name in STEPS:
        count = per_step.get(name)
        shown = f"{count / 1e6:11.2f} M" if count is not None else "-"
        print(f"{name:>20}  {queries[name]:>11}  {cpu_ms[name]:>15.2f}  {shown:>14}")
    total = f"{sum(per_step.values()) / 1e6:11.2f} M" if per_step else "-"
    print(f"{'both':>20}  {sum(queries.values()):>11}  {sum(cpu_ms.values()):>15.2f}  {total:>14}")


if __name__ == "__main__":
    main()
