"""The event backbone over the moto server with real Celery workers (no eager mode, no mocks):
fan-out by filter policy, idempotent consumers, the outbox riding out a broker outage, retries
with backoff into the dead-letter queue, and idempotent provisioning."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from tests.messaging.stack import eventually, free_port

pytestmark = pytest.mark.messaging


def _staff_payload(username: str, **overrides) -> dict:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "first_name": "Staff",
        "last_name": username,
        "password": "!unusable",
        "is_active": True,
        "is_staff": True,
        "is_superuser": False,
        "groups": ["catalog-managers"],
        **overrides,
    }


def _publish_from_users(stack, payload: dict, *, trace_id: str = "", **env: str) -> str:
    """Publish staff.changed from a users process in the split shape; returns the event id."""
    code = f"""
from apps.core.context import bound
from apps.core.db import atomic
from apps.core.events import publish
with bound(trace_id={trace_id!r} or None):
    with atomic("users"):
        envelope = publish(producer="users", event_type="staff.changed", payload={payload!r})
print("EVENT", envelope.id)
"""
    output = stack.shell("users", code, **env)
    return output.split("EVENT ", 1)[1].split()[0]


def _sqs(stack):
    return boto3.client(
        "sqs",
        endpoint_url=stack.moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _queue_depth(stack, name: str) -> int:
    sqs = _sqs(stack)
    url = sqs.get_queue_url(QueueName=stack.resource_prefix + name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_an_event_reaches_each_subscriber_once_even_when_delivered_twice(split_stack):
    trace_id = f"trace-{uuid.uuid4().hex[:12]}"
    event_id = _publish_from_users(split_stack, _staff_payload("alice"), trace_id=trace_id)

    for service in ("catalog", "notifications"):
        eventually(
            lambda service=service: split_stack.query(
                service, "SELECT is_staff FROM auth_user WHERE username = 'alice'"
            ),
            message=f"alice replicated to {service}",
        )
    # users publishes but does not subscribe: the filter policy kept the event out of its queue.
    assert _queue_depth(split_stack, "shopstack-users") == 0

    # Deliver the very same envelope again (at-least-once delivery does this).
    split_stack.shell(
        "users",
        f"""
from apps.core.events.sns import SnsTransport
from apps.users.models import OutboxEvent
row = OutboxEvent.objects.get(id="{event_id}")
SnsTransport().send(row.to_envelope())
""",
    )
    log = split_stack.log_dir / "worker-catalog.log"
    eventually(lambda: log.read_text().count(f"duplicate staff.changed {event_id}") == 1, message="duplicate seen")
    assert split_stack.query("catalog", "SELECT count(*) FROM catalog_inboxevent WHERE event_id = %s", (event_id,)) == [
        (1,)
    ]
    # The consumer's logs carry the producer's trace id.
    handled = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and f"handled staff.changed {event_id}" in line
    ]
    assert handled and handled[0]["trace_id"] == trace_id


def test_events_committed_together_go_out_in_publish_batches_and_each_reaches_its_subscribers(split_stack):
    # Twelve events in one transaction: the relay sends them as PublishBatch calls of at most ten
    # (the filter policies still read each message's own attributes).
    names = [f"batch{n}-{uuid.uuid4().hex[:6]}" for n in range(12)]
    code = f"""
from apps.core.db import atomic
from apps.core.events import publish
from apps.core.events.sns import SnsTransport
calls = []
publish_batch = SnsTransport.send_many
SnsTransport.send_many = lambda self, envelopes: calls.append(len(envelopes)) or publish_batch(self, envelopes)
with atomic("users"):
    for name in {names!r}:
        publish(producer="users", event_type="staff.changed", payload={_staff_payload("x")!r} | {{"username": name}})
from apps.core.events.outbox import background_relay
background_relay.drain(timeout=10)
print("CALLS", calls)
"""
    assert "CALLS [10, 2]" in split_stack.shell("users", code)
    for service in ("catalog", "notifications"):
        eventually(
            lambda service=service: (
                split_stack.query(service, "SELECT count(*) FROM auth_user WHERE username = ANY(%s)", (names,))
                == [(12,)]
            ),
            message=f"twelve staff replicated to {service}",
        )
    assert _queue_depth(split_stack, "shopstack-users") == 0


def test_the_outbox_holds_an_event_while_sns_is_unreachable(split_stack):
    dead_endpoint = f"http://127.0.0.1:{free_port()}"
    event_id = _publish_from_users(split_stack, _staff_payload("bob"), AWS_ENDPOINT_URL=dead_endpoint)

    # The change committed; its event waits, unsent, with the failed attempt recorded.
    (sent_at, attempts) = split_stack.query(
        "users", "SELECT sent_at, attempts FROM users_outboxevent WHERE id = %s", (event_id,)
    )[0]
    assert sent_at is None and attempts == 1
    assert not split_stack.query("catalog", "SELECT 1 FROM auth_user WHERE username = 'bob'")

    # The endpoint is back: the sweep sends it, and it is handled once.
    assert "relayed 1 event(s) of users" in split_stack.manage("users", "relay_outbox").stdout
    eventually(
        lambda: split_stack.query("catalog", "SELECT 1 FROM auth_user WHERE username = 'bob'"),
        message="bob replicated after the outage",
    )
    assert split_stack.query(
        "users", "SELECT sent_at IS NOT NULL FROM users_outboxevent WHERE id = %s", (event_id,)
    ) == [(True,)]


def test_a_failing_handler_is_retried_then_dead_lettered_and_the_queue_keeps_flowing(split_stack):
    poison_id = _publish_from_users(split_stack, {"username": "poison"})  # the handler raises KeyError
    healthy_id = _publish_from_users(split_stack, _staff_payload("carol"))

    # The healthy event behind it is handled while the poison message is still being retried.
    eventually(
        lambda: split_stack.query("catalog", "SELECT 1 FROM auth_user WHERE username = 'carol'"),
        message="carol handled despite the poison message",
    )
    assert split_stack.query("catalog", "SELECT 1 FROM catalog_inboxevent WHERE event_id = %s", (healthy_id,))

    # After EVENTS_MAX_RECEIVES (3) receives, SQS moves the poison message to the DLQ.
    eventually(lambda: _queue_depth(split_stack, "shopstack-catalog-dlq") == 1, timeout=60, message="poison in DLQ")
    log = (split_stack.log_dir / "worker-catalog.log").read_text()
    assert log.count(f"handle_event[{poison_id}] received") >= 3
    assert not split_stack.query("catalog", "SELECT 1 FROM catalog_inboxevent WHERE event_id = %s", (poison_id,))
    assert _queue_depth(split_stack, "shopstack-catalog") == 0


def test_provisioning_twice_changes_nothing_the_second_time(split_stack):
    assert split_stack.manage("users", "provision_aws").stdout.strip() == "Everything is up to date."
