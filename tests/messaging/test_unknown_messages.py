"""A message the worker cannot run (a task or an event version from a newer release) goes back to
its queue and, after maxReceiveCount receives, to the dead-letter queue: never deleted. Real Celery
worker, moto server."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest

from tests.messaging.stack import eventually

pytestmark = pytest.mark.messaging

# notifications' queue: the event backbone tests count catalog's dead letters.
SERVICE = "notifications"


def _sqs(stack):
    return boto3.client(
        "sqs",
        endpoint_url=stack.moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _url(stack, name: str) -> str:
    return _sqs(stack).get_queue_url(QueueName=stack.resource_prefix + name)["QueueUrl"]


def _dead_letters(stack) -> list[dict]:
    """The Celery messages in the service's DLQ (received with no visibility, so left there)."""
    sqs = _sqs(stack)
    url = _url(stack, f"shopstack-{SERVICE}-dlq")
    found = {}
    for _ in range(5):
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", []):
            found[message["MessageId"]] = _celery_message(message["Body"])
    return list(found.values())


def _celery_message(body: str) -> dict:
    # kombu base64-encodes what it sends itself; events come through SNS as plain JSON.
    return json.loads(body if body.startswith("{") else base64.b64decode(body))


def _in_dlq(stack, key: str, value: str) -> bool:
    return any(message["headers"].get(key) == value for message in _dead_letters(stack))


def test_a_task_this_worker_does_not_know_is_dead_lettered_not_deleted(split_stack):
    # Given a task from a newer release, sent to notifications' queue, that this worker lacks
    task_id = str(uuid.uuid4())
    split_stack.shell(
        SERVICE,
        f"from celery import current_app\n"
        f"current_app.send_task('apps.notifications.from_a_newer_release', task_id={task_id!r}, kwargs={{'x': 1}})",
    )

    # Then it is received EVENTS_MAX_RECEIVES (3) times, never deleted, and SQS dead-letters it
    eventually(lambda: _in_dlq(split_stack, "id", task_id), timeout=60, message="unknown task in the DLQ")
    log = (split_stack.log_dir / f"worker-{SERVICE}.log").read_text()
    assert log.count(f"from_a_newer_release ({task_id}) this worker does not know") == 3
    [message] = [m for m in _dead_letters(split_stack) if m["headers"].get("id") == task_id]
    assert message["headers"]["task"] == "apps.notifications.from_a_newer_release"


def test_an_event_in_a_version_this_service_does_not_read_is_dead_lettered(split_stack):
    # Given staff.changed in version 2 from a newer users release (notifications reads version 1),
    # with a payload the version 1 handler would happily apply
    code = """
from apps.core.events.envelope import Envelope
from apps.core.events.sns import SnsTransport
payload = {"username": "from-v2", "email": "v2@example.com", "first_name": "V", "last_name": "Two",
           "password": "!unusable", "is_active": True, "is_staff": True, "is_superuser": False, "groups": []}
envelope = Envelope(type="staff.changed", producer="users", version=2, trace_id="t", payload=payload)
SnsTransport().send(envelope)
print("EVENT", envelope.id)
"""
    event_id = split_stack.shell("users", code).split("EVENT ", 1)[1].split()[0]

    # Then notifications does not handle it: the delivery fails, SQS redelivers it, then dead-letters it
    eventually(lambda: _in_dlq(split_stack, "id", event_id), timeout=60, message="v2 event in the DLQ")
    assert not split_stack.query(SERVICE, "SELECT 1 FROM notifications_inboxevent WHERE event_id = %s", (event_id,))
    assert not split_stack.query(SERVICE, "SELECT 1 FROM auth_user WHERE username = 'from-v2'")
    log = (split_stack.log_dir / f"worker-{SERVICE}.log").read_text()
    assert "UnsupportedEventVersionError" in log
