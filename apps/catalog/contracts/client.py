"""Typed HTTP client for the catalog API, for services that price carts and check availability
(orders). No Django here: the standard library's HTTP client on a kept-alive connection per thread
(no TCP handshake or new server-side connection per lookup), a short connect timeout and a read
timeout, retries with backoff on outages, and one clear error, CatalogUnavailable, when catalog
stays down.

    client = CatalogClient("http://catalog.internal", timeout=2.0)
    snapshots = client.variants(["TSHIRT-RED-M", "MUG-01"])   # {sku: VariantSnapshot}; unknown SKUs absent
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

VARIANTS_PATH = "/api/v1/catalog/variants/"
# The API answers at most this many SKUs per call; the client splits longer lists.
MAX_SKUS_PER_CALL = 100
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# The tax classes a product can have; orders holds a rate per class and destination.
TAX_CLASSES = ("standard", "reduced", "zero", "exempt")


class CatalogError(Exception):
    """Catalog answered, but not with what was asked (a 4xx, or a body that does not parse)."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class CatalogUnavailable(CatalogError):
    """Catalog could not be reached, timed out, or answered 5xx on every attempt."""


@dataclass(frozen=True)
class VariantSnapshot:
    sku: str
    product_name: str
    variant_name: str
    price: Decimal
    currency: str
    available: int
    active: bool
    product_id: str = ""
    # For shipping (weight bands), tax (the class's rate at the destination) and promotions
    # restricted to categories (the product's category and its ancestors).
    weight_grams: int = 0
    tax_class: str = "standard"
    category_slugs: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VariantSnapshot:
        try:
            return cls(
                sku=str(data["sku"]),
                product_id=str(data["product_id"]),
                product_name=str(data["product_name"]),
                variant_name=str(data["variant_name"]),
                price=Decimal(str(data["price"])),
                currency=str(data["currency"]),
                available=int(data["available"]),
                active=bool(data["active"]),
                weight_grams=int(data.get("weight_grams") or 0),
                tax_class=str(data.get("tax_class") or "standard"),
                category_slugs=tuple(str(slug) for slug in data.get("category_slugs") or ()),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as error:
            raise CatalogError(f"Unexpected variant in catalog's answer: {error!r}", body=data) from error


# Connections kept alive, per thread (an HTTPConnection is not thread-safe) and per catalog
# address; clients are cheap to build and share them.
_connections = threading.local()
# Errors of a kept-alive connection the server closed while it was idle (its keep-alive timeout):
# the request never reached the application, so it is sent again at once on a new connection.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class CatalogClient:
    def __init__(
        self,
        base_url: str,
        timeout: float = 2.0,
        *,
        connect_timeout: float | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.2,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"catalog's base URL must be http(s)://host[:port], not {base_url!r}")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self.timeout = timeout  # for each read of the answer
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.headers = dict(headers or {})
        self._sleep = sleep

    def variants(self, skus: Iterable[str], *, headers: Mapping[str, str] | None = None) -> dict[str, VariantSnapshot]:
        """The current state of these SKUs, keyed by SKU; SKUs catalog does not know are absent."""
        wanted = sorted({str(sku) for sku in skus})
        found: dict[str, VariantSnapshot] = {}
        for start in range(0, len(wanted), MAX_SKUS_PER_CALL):
            chunk = wanted[start : start + MAX_SKUS_PER_CALL]
            query = urllib.parse.urlencode([("sku", sku) for sku in chunk])
            body = self._get_json(f"{VARIANTS_PATH}?{query}", headers=headers)
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise CatalogError("Catalog's answer has no results list.", body=body)
            for item in results:
                snapshot = VariantSnapshot.from_json(item)
                found[snapshot.sku] = snapshot
        return found

    def _get_json(self, path: str, *, headers: Mapping[str, str] | None) -> Any:
        request_headers = {"Accept": "application/json", **self.headers, **(headers or {})}
        last_error: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                status, raw = self._get(self._prefix + path, request_headers)
            except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
                last_error = error
            else:
                if status < 300:
                    return _parse(raw, status=status)
                body = _safe_body(raw)
                if status not in RETRYABLE_STATUSES:
                    raise CatalogError(f"Catalog answered {status} for GET {path}.", status=status, body=body)
                last_error = CatalogUnavailable(f"Catalog answered {status}.", status=status, body=body)
            if attempt < self.attempts:
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise CatalogUnavailable(
            f"Catalog at {self.base_url} is unavailable after {self.attempts} attempt(s): {last_error}",
            status=getattr(last_error, "status", None),
        ) from last_error

    def _get(self, path: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """One GET on this thread's kept-alive connection: (status, body)."""
        connection, reused = self._connection()
        try:
            try:
                return self._exchange(connection, path, headers)
            except _STALE_CONNECTION:
                if not reused:
                    raise
                connection.close()  # closed by the server while idle: once more, on a new one
                return self._exchange(connection, path, headers)
        except BaseException:
            self._forget(connection)
            raise

    def _exchange(
        self, connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str]
    ) -> tuple[int, bytes]:
        if connection.sock is None:
            connection.connect()  # within connect_timeout...
            connection.sock.settimeout(self.timeout)  # ...then each read within timeout
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        raw = response.read()
        if response.will_close:
            self._forget(connection)
        return response.status, raw

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        pool = getattr(_connections, "pool", None)
        if pool is None:
            pool = _connections.pool = {}
        key = (self._scheme, self._netloc)
        connection = pool.get(key)
        if connection is not None and connection.sock is not None:
            return connection, True
        factory = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        connection = pool[key] = factory(self._netloc, timeout=self.connect_timeout)
        return connection, False

    def _forget(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        pool = getattr(_connections, "pool", {})
        if pool.get((self._scheme, self._netloc)) is connection:
            del pool[(self._scheme, self._netloc)]


def _parse(raw: bytes, *, status: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CatalogError("Catalog's answer is not JSON.", status=status) from error


def _safe_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except Exception:
        return None
