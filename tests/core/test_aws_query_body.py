"""Query-protocol requests (SNS) are url-encoded once by apps.core.aws, byte for byte as botocore
would, instead of by urllib for each preparation of the request (a Python call per byte)."""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import boto3
import botocore.awsrequest
import pytest
from botocore.awsrequest import AWSResponse

from apps.core.aws import client, form_quote

PUBLISH_REPLY = b"<PublishResponse><PublishResult><MessageId>1</MessageId></PublishResult></PublishResponse>"


def test_form_quote_is_quote_plus():
    samples = [
        "".join(chr(code) for code in range(256)),
        '{"body": "eyJh+/=", "headers": {"task": "apps.core.events.handle_event"}}',
        "café ünïcode — ✓ 😀",
        "",
        "a b~c_d.e-f",
    ]
    for sample in samples:
        assert form_quote(sample) == quote_plus(sample)


class _Raw:
    def stream(self, **_):
        yield PUBLISH_REPLY


def _sent_body(sns) -> bytes:
    bodies: list[bytes] = []

    def answer(request, **_):
        bodies.append(request.body if isinstance(request.body, bytes) else request.body.encode())
        return AWSResponse(request.url, 200, {}, _Raw())

    sns.meta.events.register("before-send.sns", answer)
    # With tracing on, the botocore instrumentation adds the publishing span's traceparent.
    sns.publish(
        TopicArn="arn:aws:sns:us-east-1:123456789012:t",
        Message='{"body": "eyJh+/=", "x": "café ✓"}',
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "order.created"}},
    )
    return re.sub(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", b"TRACEPARENT", bodies[0])


@pytest.fixture
def credentials(monkeypatch, settings):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.AWS_SNS_ENDPOINT_URL = None
    client.cache_clear()
    yield
    client.cache_clear()


def test_a_publish_is_url_encoded_once_and_sends_botocore_s_own_body(credentials, monkeypatch):
    plain = boto3.client("sns", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    expected = _sent_body(plain)

    encodings: list[object] = []
    urlencode = botocore.awsrequest.urlencode
    monkeypatch.setattr(botocore.awsrequest, "urlencode", lambda *a, **k: encodings.append(a) or urlencode(*a, **k))
    body = _sent_body(client("sns", fast_fail=True))

    assert body == expected
    assert encodings == []
