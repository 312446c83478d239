"""Benchmark: what one event delivery costs a service's Celery worker, whatever the handler does,
counted so that the machine's load does not move it: instructions (valgrind's callgrind), round
trips (database statements and AWS calls) and Python function calls per delivery.

    .venv/bin/python -m bench.delivery_cost [--deliveries 200] [--no-callgrind]

Everything runs in one process, as a worker runs it (the Celery prefork pool's parent and child
together): SERVICE=orders on a database of its own (shopstack_bench_delivery), kombu's SQS channel
with the project's batched acks (apps/core/sqs.py), Celery's default task strategy and its solo
pool. Each delivery is a `stock.reserved` event in the message body the relay publishes to SNS
(apps/core/events/sns.py), received ten at a time (ReceiveMessage), parsed by kombu's SQS channel,
turned into a Celery request and run by the task `apps.core.events.handle_event`: the envelope,
the inbox row, the handler, the outbox row the handler writes (one `payment.requested`), the relay
pass after commit (in line: EVENTS_RELAY_IN_BACKGROUND off; claim, SNS Publish, mark sent), then
the ack (DeleteMessageBatch, from the ack thread). The handler is a stand-in that only publishes:
what the saga's own steps cost is not what this measures. AWS is not contacted: every botocore
call is answered at its `before-send` hook with a canned reply, so the request is built and the
reply parsed as against SNS and SQS, with no HTTP and no moto.

Instructions: the child under callgrind twice after the same set-up and warm-up, with 0 and with
--deliveries deliveries; the difference over --deliveries is one delivery, every thread counted.
Needs PostgreSQL at BENCH_POSTGRES_URL (as bench/catalog_list.py) and valgrind. Results:
docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from bench.catalog_list import ROOT, VENV_BIN, drop_database, manage, prepare_database
from bench.inprocess import CallgrindFailed, callgrind, service_env

DATABASE = "shopstack_bench_delivery"
WARM_UP = 50
RECEIVE_BATCH = 10  # SQS's most per ReceiveMessage, as kombu asks under load
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:shopstack-events"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


class _Harness:
    """The child's side: orders' worker set up in this process, and `deliver_batch` to run."""

    def __init__(self) -> None:
        import django

        django.setup()
        from botocore.awsrequest import AWSResponse
        from celery.concurrency.solo import TaskPool
        from celery.worker import state as worker_state
        from celery.worker.strategy import default as default_strategy
        from kombu import Connection

        from apps.core.aws import client
        from apps.core.events import handlers, outbox
        from apps.core.events.envelope import Envelope
        from apps.core.events.sns import HANDLE_EVENT_TASK, celery_message_body
        from config.celery import app

        self.Envelope, self.celery_message_body = Envelope, celery_message_body
        self.aws_calls: Counter[str] = Counter()
        self.pending: list[dict[str, Any]] = []

        def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
            operation = event_name.rsplit(".", 1)[-1]
            self.aws_calls[operation] += 1
            return AWSResponse(request.url, 200, {}, _Raw(self._reply(operation, request)))

        # The handler the bench runs: it only publishes, as every saga step does.
        def on_stock_reserved(envelope: Any) -> None:
            outbox.publish(producer="orders", event_type="payment.requested", payload=envelope.payload)

        handlers._handlers[("orders", "stock.reserved")] = on_stock_reserved

        client("sns", fast_fail=True).meta.events.register("before-send.sns", answer)
        app.loader.import_default_modules()
        app.finalize()
        self.connection = Connection(
            app.conf.broker_url,
            transport=app.conf.broker_transport,
            transport_options=app.conf.broker_transport_options,
        )
        self.channel = self.connection.default_channel
        self.queue = "events"
        self.queue_url = self.channel._new_queue(self.queue)
        self.channel.sqs(queue=self.queue).meta.events.register("before-send.sqs", answer)
        self.pool = TaskPool()
        self.pool.start()
        consumer = SimpleNamespace(
            hostname="bench@delivery",
            connection_errors=(),
            event_dispatcher=None,
            timer=SimpleNamespace(call_at=None),
            apply_eta_task=None,
            disable_rate_limits=True,
            task_buckets={},
            on_task_request=lambda request: request.execute_using_pool(self.pool),
            _limit_task=None,
            _limit_post_eta=None,
            pool=self.pool,
            controller=SimpleNamespace(state=worker_state),
        )
        strategy = default_strategy(app.tasks[HANDLE_EVENT_TASK], app, consumer)

        def on_message(message: Any) -> None:
            strategy(message, None, message.ack_log_error, message.reject_log_error, [])

        self.channel.basic_consume(self.queue, no_ack=False, callback=on_message, consumer_tag="bench")

    def _reply(self, operation: str, request: Any) -> bytes:
        if operation == "ReceiveMessage":
            messages, self.pending = self.pending, []
            return json.dumps({"Messages": messages}).encode()
        if operation == "DeleteMessageBatch":
            entries = json.loads(request.body)["Entries"]
            return json.dumps({"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}).encode()
        if operation == "Publish":
            return b"<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>"
        if operation == "PublishBatch":
            return b"<PublishBatchResponse><PublishBatchResult></PublishBatchResult></PublishBatchResponse>"
        raise RuntimeError(f"the bench has no reply for {operation}")

    def messages(self, count: int) -> list[dict[str, Any]]:
        """`count` SQS messages as SNS delivers them to orders' queue (raw message delivery)."""
        made = []
        for _ in range(count):
            envelope = self.Envelope(
                type="stock.reserved",
                producer="catalog",
                payload={"order_id": str(uuid.uuid4()), "reservation_id": str(uuid.uuid4())},
                trace_id=uuid.uuid4().hex,
                traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            )
            made.append(
                {
                    "MessageId": str(uuid.uuid4()),
                    "ReceiptHandle": uuid.uuid4().hex,
                    "Body": self.celery_message_body(envelope),
                    "Attributes": {"ApproximateReceiveCount": "1"},
                }
            )
        return made

    def deliver(self, messages: list[dict[str, Any]]) -> None:
        """Receive `messages` RECEIVE_BATCH at a time and run each as the worker does."""
        for start in range(0, len(messages), RECEIVE_BATCH):
            self.pending = messages[start : start + RECEIVE_BATCH]
            response = self.channel._receive_message(self.queue, max_number_of_messages=RECEIVE_BATCH)
            self.channel._on_messages_ready(self.queue_url, self.queue, response)

    def settle(self) -> None:
        """Send the acks still waiting in the batcher."""
        self.channel.ack_batcher().close()
        self.channel._batcher = None

    def run(self, measured: int) -> None:
        batches = [self.messages(WARM_UP), self.messages(measured)]
        self.deliver(batches[0])
        self.deliver(batches[1])
        self.settle()

    def counts(self, deliveries: int) -> None:
        """Print round trips and Python calls per delivery."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.deliver(self.messages(WARM_UP))
        self.settle()
        messages = self.messages(deliveries)
        calls = 0

        def profile(frame: Any, event: str, arg: Any) -> None:
            nonlocal calls
            if event == "call":
                calls += 1

        self.aws_calls.clear()
        threading.setprofile(profile)
        sys.setprofile(profile)
        with CaptureQueriesContext(connection) as queries:
            self.deliver(messages)
            self.settle()
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        statements = Counter(" ".join(q["sql"].split()[:3]) for q in queries.captured_queries)
        print(f"per delivery, {deliveries} deliveries after {WARM_UP} warm-up:")
        print(f"  database round trips: {len(queries) / deliveries:.2f}")
        for statement, count in statements.most_common():
            print(f"      {count / deliveries:5.2f}  {statement} ...")
        print(f"  AWS calls: {sum(self.aws_calls.values()) / deliveries:.2f}")
        for operation, count in self.aws_calls.most_common():
            print(f"      {count / deliveries:5.2f}  {operation}")
        print(f"  Python function calls: {calls / deliveries:.0f}")


def _child(measured: int) -> None:
    _Harness().run(measured)
    sys.stdout.flush()
    os._exit(0)


def instructions(env: dict[str, str], measured: int) -> int:
    argv = [str(VENV_BIN / "python"), "-m", "bench.delivery_cost", "--child", str(measured)]
    return callgrind(argv, env)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=200, help="measured deliveries")
    parser.add_argument("--no-callgrind", action="store_true", help="count round trips and calls only")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database in place")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--counts", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return
    if args.counts:
        _Harness().counts(args.counts)
        return

    admin_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    env = service_env(
        "orders",
        prepare_database(admin_url, DATABASE),
        LOG_LEVEL="WARNING",
        DATABASE_CONN_MAX_AGE="600",
        # Unreachable on purpose: every call is answered at botocore's before-send hook.
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        CELERY_BROKER_URL="sqs://bench:bench@127.0.0.1:9",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        EVENTS_TOPIC_ARN=TOPIC_ARN,
        EVENTS_RELAY_IN_BACKGROUND="0",
    )
    try:
        manage(env, "migrate", "--verbosity", "0")
        argv = [str(VENV_BIN / "python"), "-m", "bench.delivery_cost", "--counts", str(args.deliveries)]
        subprocess.run(argv, cwd=ROOT, env=env, check=True, timeout=600)
        if args.no_callgrind:
            return
        with ThreadPoolExecutor(max_workers=2) as pool:
            base, total = pool.map(lambda measured: instructions(env, measured), (0, args.deliveries))
    except CallgrindFailed as failed:
        sys.exit(str(failed))
    finally:
        if not args.keep_db:
            drop_database(admin_url, DATABASE)
    print(
        f"instructions per delivery, {args.deliveries} deliveries after {WARM_UP} warm-up: "
        f"{(total - base) / args.deliveries / 1e6:.3f} M"
    )


if __name__ == "__main__":
    main()
