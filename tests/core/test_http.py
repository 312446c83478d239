"""apps.core.http, the base for synchronous calls (written with orders, its first user): retries
on transient failures only, then one 503 problem error; the trace travels along."""

from __future__ import annotations

import pytest
import requests

from apps.core.context import bound
from apps.core.exceptions import ServiceUnavailable
from apps.core.http import ServiceClient, TransientHTTPError, call_with_retries


class Flaky:
    def __init__(self, failures: int, error: Exception):
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def test_retries_then_succeeds():
    call, sleeps = Flaky(2, TransientHTTPError("down")), []
    assert call_with_retries(call, service="catalog", attempts=3, sleep=sleeps.append, backoff_seconds=0.1) == "ok"
    assert call.calls == 3
    assert sleeps == [0.1, 0.2]


def test_gives_up_with_service_unavailable():
    call = Flaky(5, TransientHTTPError("down"))
    with pytest.raises(ServiceUnavailable) as error:
        call_with_retries(call, service="catalog", attempts=3, sleep=lambda _: None)
    assert call.calls == 3
    assert error.value.status_code == 503
    assert error.value.get_codes() == "catalog_unavailable"


def test_other_errors_are_answers_not_outages():
    call = Flaky(1, KeyError("no"))
    with pytest.raises(KeyError):
        call_with_retries(call, service="catalog", sleep=lambda _: None)
    assert call.calls == 1


class FakeResponse:
    def __init__(self, status_code: int, body: bytes = b"{}"):
        self.status_code, self.content = status_code, body

    def json(self):
        return {"ok": True}

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(str(self.status_code))


class FakeSession:
    def __init__(self, responses):
        self.responses, self.requests = list(responses), []

    def request(self, method, url, **kwargs):
        self.requests.append((method, url, kwargs))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def test_service_client_retries_gets_and_carries_the_trace():
    session = FakeSession([requests.ConnectionError("refused"), FakeResponse(503), FakeResponse(200)])
    client = ServiceClient(service="catalog", base_url="http://catalog/", session=session, backoff_seconds=0)

    with bound(request_id="req-1", trace_id="trace-1"):
        assert client.get("/api/v1/x/", params={"a": 1}) == {"ok": True}

    assert len(session.requests) == 3
    method, url, kwargs = session.requests[-1]
    assert (method, url) == ("GET", "http://catalog/api/v1/x/")
    assert kwargs["headers"] == {"X-Trace-ID": "trace-1", "X-Request-ID": "req-1"}
    assert kwargs["timeout"] == 3.0


def test_service_client_does_not_retry_posts_or_hide_a_crash():
    session = FakeSession([requests.Timeout("slow")])
    client = ServiceClient(service="payments", base_url="http://payments", session=session)
    with pytest.raises(ServiceUnavailable):
        client.post("/charge/", json={})
    assert len(session.requests) == 1

    session = FakeSession([FakeResponse(500)])
    client = ServiceClient(service="payments", base_url="http://payments", session=session)
    with pytest.raises(ServiceUnavailable) as error:
        client.get("/x/")
    assert error.value.get_codes() == "payments_unavailable"
    assert len(session.requests) == 1
