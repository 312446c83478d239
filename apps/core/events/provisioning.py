"""Provisions the event wiring from the services' declarations: the events topic, each service's
queue with its dead-letter queue and redrive policy, the queue policy that lets only the topic
send, and a raw-delivery subscription filtered to the event types the service handles.

Idempotent: it reads what exists, changes only what differs, and reports each change, so a
second run reports none. CloudFormation (deploy/) renders the same declarations for AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from apps.core.aws import client
from apps.core.events.declarations import subscribes
from config.services import SERVICES

DLQ_RETENTION_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Change:
    resource: str
    action: str

    def __str__(self) -> str:
        return f"{self.action}: {self.resource}"


def _name(name: str) -> str:
    return settings.AWS_RESOURCE_PREFIX + name


def filter_policy(service: str) -> dict[str, list[str]] | None:
    event_types = sorted(subscribes(service))
    return {"event_type": event_types} if event_types else None


def queue_attributes(service: str, *, dlq_arn: str, topic_arn: str, queue_arn: str) -> dict[str, str]:
    return {
        "VisibilityTimeout": str(settings.CELERY_VISIBILITY_TIMEOUT),
        "ReceiveMessageWaitTimeSeconds": "10",
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.EVENTS_MAX_RECEIVES},
            sort_keys=True,
        ),
        "Policy": json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowEventsTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                    }
                ],
            },
            sort_keys=True,
        ),
    }


def _queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{settings.AWS_REGION}:{settings.AWS_ACCOUNT_ID}:{name}"


def _same(current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    try:
        return json.loads(current) == json.loads(wanted)
    except ValueError:
        return current == wanted


def _ensure_queue(name: str, attributes: dict[str, str], changes: list[Change]) -> str:
    sqs = client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        changes.append(Change(f"queue {name}", "created"))
        return url
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    differing = {key: value for key, value in attributes.items() if not _same(current.get(key), value)}
    if differing:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
        changes.append(Change(f"queue {name} ({', '.join(sorted(differing))})", "updated"))
    return url


def _ensure_subscription(topic_arn: str, queue_arn: str, policy: dict | None, changes: list[Change]) -> None:
    sns = client("sns")
    existing = [
        subscription
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for subscription in page["Subscriptions"]
        if subscription["Endpoint"] == queue_arn
    ]
    if policy is None:
        for subscription in existing:
            sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
            changes.append(Change(f"subscription {queue_arn}", "removed"))
        return
    wanted = {"RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy, sort_keys=True)}
    if not existing:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=wanted)
        changes.append(Change(f"subscription {queue_arn}", "created"))
        return
    arn = existing[0]["SubscriptionArn"]
    current = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    for key, value in wanted.items():
        if not _same(current.get(key), value):
            sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=key, AttributeValue=value)
            changes.append(Change(f"subscription {queue_arn} {key}", "updated"))


def _ensure_bucket(name: str, changes: list[Change]) -> None:
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in {"404", "NoSuchBucket", "NotFound"}:
            raise
        arguments: dict[str, Any] = {"Bucket": name}
        if settings.AWS_REGION != "us-east-1":
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": settings.AWS_REGION}
        s3.create_bucket(**arguments)
        changes.append(Change(f"bucket {name}", "created"))


def provision(*, services: list[str] | None = None, bucket: str | None = None) -> list[Change]:
    changes: list[Change] = []
    topic_name = _name(settings.EVENTS_TOPIC_NAME)
    sns = client("sns")
    topics = [
        topic["TopicArn"]
        for page in sns.get_paginator("list_topics").paginate()
        for topic in page["Topics"]
        if topic["TopicArn"].rsplit(":", 1)[-1] == topic_name
    ]
    if topics:
        topic_arn = topics[0]
    else:
        topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
        changes.append(Change(f"topic {topic_name}", "created"))

    for service_name in services or list(SERVICES):
        service = SERVICES[service_name]
        dlq_name, queue_name = _name(service.dead_letter_queue), _name(service.queue)
        _ensure_queue(
            dlq_name,
            {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
            changes,
        )
        _ensure_queue(
            queue_name,
            queue_attributes(
                service_name,
                dlq_arn=_queue_arn(dlq_name),
                topic_arn=topic_arn,
                queue_arn=_queue_arn(queue_name),
            ),
            changes,
        )
        _ensure_subscription(topic_arn, _queue_arn(queue_name), filter_policy(service_name), changes)

    if bucket:
        _ensure_bucket(bucket, changes)
    return changes
