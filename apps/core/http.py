"""The base for the rare synchronous call to another service: bounded timeouts, a few retries with
backoff for failures that a retry can fix, the request and trace ids carried along, and one clear
error when the other service stays down: ServiceUnavailable (503 problem), never a hang or a 500.

Two ways in:
- `call_with_retries(call, service=...)` wraps any call (typically a service's contract client,
  which carries no Django and so raises its own "unavailable" error) in the retry policy;
- `ServiceClient` is a small JSON-over-HTTP client for callers that have no contract client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests

from apps.core.context import current_trace_id, request_id_var
from apps.core.exceptions import ServiceUnavailable
from apps.core.tracing import carrier_from_context

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 3.0
DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = 0.2
# Statuses that say "try again" (gateway, overload); any other status is the callee's answer.
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class TransientHTTPError(Exception):
    """A failure worth retrying: connection refused or reset, timeout, 502/503/504."""


def trace_headers() -> dict[str, str]:
    """Headers that carry this request's ids to the callee, so its logs and spans join this trace:
    the W3C traceparent whatever HTTP library sends them (catalog's contract client uses urllib,
    which no instrumentation covers here), and X-Trace-ID for a callee with tracing off."""
    headers = {**carrier_from_context(), "X-Trace-ID": current_trace_id()}
    request_id = request_id_var.get()
    if request_id:
        headers["X-Request-ID"] = request_id
    return headers


def call_with_retries(
    call: Callable[[], T],
    *,
    service: str,
    retry_on: tuple[type[BaseException], ...] = (TransientHTTPError,),
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    code: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`; on an error in `retry_on` try again (exponential backoff, `attempts` in all),
    then raise ServiceUnavailable with code `<service>_unavailable`. Other errors pass through:
    they are answers (404, validation), not outages."""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except retry_on as error:
            if attempt == attempts:
                logger.warning(
                    "%s unavailable after %s attempts: %s",
                    service,
                    attempts,
                    error,
                    extra={"dependency": service, "attempts": attempts},
                )
                raise ServiceUnavailable(
                    f"The {service} service is unavailable; try again shortly.",
                    code=code or f"{service}_unavailable",
                ) from error
            logger.info("%s call failed (attempt %s of %s): %s", service, attempt, attempts, error)
            sleep(backoff_seconds * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover


class ServiceClient:
    """JSON over HTTP to another service, with the retry policy above. Only idempotent reads
    retry: a POST that timed out may have happened, so it fails at once instead."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        session: requests.Session | None = None,
    ):
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.session = session or requests.Session()

    def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return call_with_retries(
            lambda: self._request("GET", path, params=params),
            service=self.service,
            attempts=self.attempts,
            backoff_seconds=self.backoff_seconds,
        )

    def post(self, path: str, *, json: Any = None) -> Any:
        return call_with_retries(lambda: self._request("POST", path, json=json), service=self.service, attempts=1)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, headers=trace_headers(), **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientHTTPError(f"{method} {url}: {error}") from error
        if response.status_code in RETRYABLE_STATUSES:
            raise TransientHTTPError(f"{method} {url}: HTTP {response.status_code}")
        if response.status_code >= 500:
            # The callee crashed: retrying the same request will not help, but to this caller it
            # is the same thing, a dependency that cannot answer.
            raise ServiceUnavailable(
                f"The {self.service} service failed to answer; try again shortly.",
                code=f"{self.service}_unavailable",
            )
        response.raise_for_status()
        return response.json() if response.content else None
