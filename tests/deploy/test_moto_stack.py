"""The messaging and storage part of the real templates (topic, queues with dead-letter queues
and redrive, buckets), deployed into moto's CloudFormation and checked through the SQS, SNS and
S3 APIs. moto skips resource types it does not implement without a word, so the test asserts that
every resource it relies on was really created; the types moto cannot create
(AWS::SNS::Subscription, AWS::SQS::QueuePolicy, alarms, CodeDeploy, secrets) are checked
structurally in test_rendering.py and test_policies.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

import boto3
import pytest

from config.services import SERVICES
from tests.deploy.templates import extract, load

MAX_RECEIVE_COUNT = 5


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"moto_server did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port)
        session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
        yield lambda name: session.client(name, endpoint_url=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _create(cloudformation, name: str, template: dict, parameters: dict[str, str]) -> dict[str, dict]:
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    created = {
        r["LogicalResourceId"]: r for r in cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    }
    # A skipped resource is not a pass: everything extracted must have been created, with its type.
    assert {name: r["ResourceType"] for name, r in created.items()} == {
        name: r["Type"] for name, r in template["Resources"].items()
    }
    assert all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in created.values())
    return created


def test_platform_topic_and_buckets(aws):
    template = extract(
        load("platform"), {"AWS::SNS::Topic", "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::IAM::ServiceLinkedRole"}
    )
    assert {r["Type"] for r in template["Resources"].values()} == {
        "AWS::SNS::Topic",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::IAM::ServiceLinkedRole",  # the key policy names it
    }
    # moto's CloudFormation has no service-linked roles: a role of the same name stands in.
    template["Resources"]["AutoScalingRole"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": "AWSServiceRoleForAutoScaling_test",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "autoscaling.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
        },
    }
    topic_name = f"events-{uuid.uuid4().hex[:8]}"
    created = _create(
        aws("cloudformation"), f"platform-{uuid.uuid4().hex[:8]}", template, {"EventsTopicName": topic_name}
    )

    topic_arn = created["EventsTopic"]["PhysicalResourceId"]
    assert topic_arn.endswith(f":{topic_name}")
    attributes = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert attributes["KmsMasterKeyId"]

    s3 = aws("s3")
    for bucket in ("MediaBucket", "TrailBucket", "AccessLogsBucket", "CdnLogsBucket"):
        name = created[bucket]["PhysicalResourceId"]
        s3.head_bucket(Bucket=name)
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"aws:kms", "AES256"}


@pytest.mark.parametrize("service", list(SERVICES))
def test_service_queue_redrives_to_its_dead_letter_queue(aws, service):
    full = load("service")
    # The subscription's dead-letter queue exists only with the subscription (condition Subscribes).
    del full["Resources"]["SubscriptionDeadLetterQueue"]
    template = extract(full, {"AWS::SQS::Queue"})
    prefix = f"t{uuid.uuid4().hex[:6]}-"
    created = _create(
        aws("cloudformation"),
        f"{service}-{uuid.uuid4().hex[:8]}",
        template,
        {"ServiceName": service, "ResourcePrefix": prefix, "MaxReceiveCount": str(MAX_RECEIVE_COUNT)},
    )
    sqs = aws("sqs")
    queue_url = sqs.get_queue_url(QueueName=prefix + SERVICES[service].queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=prefix + SERVICES[service].dead_letter_queue)["QueueUrl"]
    # The stack's queue is the one the services find by name (moto reports AWS's host in the URL).
    assert created["Queue"]["PhysicalResourceId"].rsplit("/", 2)[1:] == queue_url.rsplit("/", 2)[1:]
    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT
    assert "RedrivePolicy" not in dlq
    assert queue["VisibilityTimeout"] == "300"
    assert dlq["MessageRetentionPeriod"] == "1209600"
    assert queue.get("SqsManagedSseEnabled") == "true"
