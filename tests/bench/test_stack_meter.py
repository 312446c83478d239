"""bench/stack_meter.py and bench/profiling.py without the split stack: reading /proc, naming the
AWS operation of a recorded request, and summing up py-spy's raw stacks."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

from bench.profiling import parse_raw, summarize
from bench.stack_meter import CpuMeter, aws_operation, count_operations, parse_stat, postgres_database, process_class


def test_a_stat_line_with_spaces_and_parentheses_in_the_name():
    text = "4242 (celery (worker) x) S 4200 4242 4242 0 -1 4194560 1 0 0 0 150 25 3 4 20 0 5 0 98765 0 0"
    stat = parse_stat(text)
    assert (stat.pid, stat.ppid, stat.start, stat.cpu_ticks) == (4242, 4200, 98765, 175)


def test_pid_files_name_the_class_and_service():
    assert process_class("orders-worker") == ("worker", "orders")
    assert process_class("notifications-web") == ("web", "notifications")
    assert process_class("moto") == ("moto", "")


def test_only_backends_of_the_stacks_databases_count():
    assert postgres_database("postgres: postgres shopstack_stack_orders 127.0.0.1(5432) idle", "shopstack_stack") == (
        "orders"
    )
    assert postgres_database("postgres: postgres test_perf_orders 127.0.0.1(5432) idle", "shopstack_stack") is None
    assert postgres_database("postgres: walwriter ", "shopstack_stack") is None


def test_a_child_of_a_stack_process_counts_in_its_class_from_zero_when_it_starts_inside_the_window(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "orders-worker.pid").write_text(str(parent.pid))
        meter = CpuMeter(tmp_path, "no_such_stack", interval=0.05).start()  # no PostgreSQL backends
        before = meter.reading()
        (tmp_path / "catalog-web.pid").write_text(str(os.getpid()))
        started = time.process_time()
        while time.process_time() - started < 0.3:  # burn CPU in this (now "catalog web") process
            sum(range(1000))
        window = meter.window(before, meter.reading())
        meter.stop()
        assert window.by_class().get("worker", 0) < 0.1  # the sleeping one
        # All of this process's CPU counts, from zero: it was not a stack process at the start.
        assert window.by_service("web")["catalog"] >= 0.3
        assert window.project() == sum(window.seconds.values())
    finally:
        parent.kill()
        parent.wait()


def _entry(headers: dict, body: str = "", *, encoded: bool = False, url: str = "http://127.0.0.1:5100/") -> dict:
    if encoded:
        body = base64.b64encode(body.encode()).decode()
    return {"headers": headers, "method": "POST", "url": url, "body": body, "body_encoded": encoded}


SIGNED_SQS = "AWS4-HMAC-SHA256 Credential=stack/20261130/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x"
SIGNED_SNS = SIGNED_SQS.replace("/sqs/", "/sns/")


def test_operations_from_the_json_protocols_target_and_the_query_protocols_action():
    assert aws_operation(_entry({"X-Amz-Target": "AmazonSQS.ReceiveMessage", "Authorization": SIGNED_SQS})) == (
        "sqs:ReceiveMessage"
    )
    assert aws_operation(_entry({"Authorization": SIGNED_SNS}, "Action=Publish&TopicArn=x", encoded=True)) == (
        "sns:Publish"
    )
    assert aws_operation(_entry({"Authorization": SIGNED_SQS}, "", url="http://h/?Action=DeleteMessage")) == (
        "sqs:DeleteMessage"
    )


def test_count_operations_reads_moto_recording_lines():
    lines = [
        json.dumps(_entry({"X-Amz-Target": "AmazonSQS.DeleteMessage", "Authorization": SIGNED_SQS})),
        "",
        json.dumps(_entry({"X-Amz-Target": "AmazonSQS.DeleteMessage", "Authorization": SIGNED_SQS})),
        json.dumps(_entry({"Authorization": SIGNED_SNS}, "Action=PublishBatch", encoded=True)),
    ]
    assert count_operations(lines) == {"sqs:DeleteMessage": 2, "sns:PublishBatch": 1}


def test_two_entries_on_one_line_count_twice():
    # moto's threads append each entry and its newline in two writes: another entry may come between.
    delete = json.dumps(_entry({"X-Amz-Target": "AmazonSQS.DeleteMessage", "Authorization": SIGNED_SQS}))
    assert count_operations([delete + delete, delete + "{broken"]) == {"sqs:DeleteMessage": 3, "(unreadable entry)": 1}


def test_py_spy_raw_stacks_sum_up_inclusive_and_self():
    raw = [
        "process 1:celery;run (celery/worker.py);deliver (apps/core/events/handlers.py);send (botocore/endpoint.py) 30",
        "process 1:celery;run (celery/worker.py);deliver (apps/core/events/handlers.py) 10",
        "process 1:celery;run (celery/worker.py);loads (json/decoder.py) 60",
        "garbage",
    ]
    summary = summarize(parse_raw(raw))
    assert summary.samples == 100
    assert summary.inclusive["celery/worker.py:run"] == 100
    assert summary.inclusive["apps/core/events/handlers.py:deliver"] == 40
    assert summary.own["botocore/endpoint.py:send"] == 30
    assert summary.own["apps/core/events/handlers.py:deliver"] == 10
