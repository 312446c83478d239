"""Handled messages are deleted from SQS in batches (apps/core/sqs.py): kombu's SQS channel with
this project's transport, against the moto server."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from kombu import Connection

from apps.core.sqs import DeleteBatcher, Transport
from tests.moto import moto_endpoint  # noqa: F401  (fixture)


@pytest.fixture
def sqs(moto_endpoint):  # noqa: F811
    return boto3.client(
        "sqs", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def _queue(sqs) -> str:
    return sqs.create_queue(QueueName=f"acks-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": "60"})[
        "QueueUrl"
    ]


def _depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


class CountingClient:
    def __init__(self, client) -> None:
        self.client = client
        self.batches: list[int] = []

    def delete_message_batch(self, **kwargs):
        self.batches.append(len(kwargs["Entries"]))
        return self.client.delete_message_batch(**kwargs)


def test_acknowledgements_are_deleted_ten_at_a_time(sqs):
    url = _queue(sqs)
    for n in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    handles = []
    while len(handles) < 25:
        handles += [m["ReceiptHandle"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    counting = CountingClient(sqs)
    batcher = DeleteBatcher(wait=5)  # long: only full batches and the close send
    for handle in handles:
        batcher.add(counting, url, handle)
    batcher.close()

    assert counting.batches == [10, 10, 5]
    assert _depth(sqs, url) == 0


def test_a_lone_acknowledgement_goes_out_after_the_short_wait(sqs):
    url = _queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="alone")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    batcher = DeleteBatcher(wait=0.05)
    batcher.add(sqs, url, handle)
    deadline = time.monotonic() + 5
    while _depth(sqs, url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _depth(sqs, url) == 0
    batcher.close()


def test_a_refused_delete_is_logged_and_the_message_comes_back(sqs, caplog):
    url = _queue(sqs)
    batcher = DeleteBatcher(wait=5)
    batcher.add(sqs, url, "not-a-receipt-handle")
    batcher.close()
    assert "it comes back" in caplog.text or "they come back" in caplog.text


def test_kombus_channel_acks_through_the_batcher(moto_endpoint, sqs, monkeypatch):  # noqa: F811
    from apps.core import sqs as module

    batches: list[int] = []
    send = module.delete_batch
    monkeypatch.setattr(
        module, "delete_batch", lambda client, url, handles: batches.append(len(handles)) or send(client, url, handles)
    )
    url = _queue(sqs)
    name = url.rsplit("/", 1)[1]
    options = {"region": "us-east-1", "predefined_queues": {name: {"url": url}}, "wait_time_seconds": 1}
    with Connection(
        f"sqs://t:t@{moto_endpoint.removeprefix('http://')}", transport=Transport, transport_options=options
    ) as connection:
        queue = connection.SimpleQueue(name)
        for n in range(3):
            queue.put({"n": n})
        received = [queue.get(timeout=10) for _ in range(3)]
        for message in received:
            message.ack()
        assert sorted(message.payload["n"] for message in received) == [0, 1, 2]
        queue.close()
    # Every ack went through DeleteMessageBatch (sent at the latest when the channel closed).
    assert sum(batches) == 3
    assert _depth(sqs, url) == 0
