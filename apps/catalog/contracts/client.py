"""Typed HTTP client for the catalog API, for services that price carts and check availability
(orders). No Django here: plain urllib with a timeout, retries with backoff on outages, and one
clear error, CatalogUnavailable, when catalog stays down.

    client = CatalogClient("http://catalog.internal", timeout=2.0)
    snapshots = client.variants(["TSHIRT-RED-M", "MUG-01"])   # {sku: VariantSnapshot}; unknown SKUs absent
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
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


class CatalogClient:
    def __init__(
        self,
        base_url: str,
        timeout: float = 2.0,
        *,
        attempts: int = 3,
        backoff_seconds: float = 0.2,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
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
        url = self.base_url + path
        request_headers = {"Accept": "application/json", **self.headers, **(headers or {})}
        last_error: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                request = urllib.request.Request(url, headers=request_headers, method="GET")  # noqa: S310 (http(s) base URL from settings)
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    raw = response.read()
                return _parse(raw, status=response.status)
            except urllib.error.HTTPError as error:
                body = _safe_body(error)
                if error.code not in RETRYABLE_STATUSES:
                    raise CatalogError(
                        f"Catalog answered {error.code} for GET {path}.", status=error.code, body=body
                    ) from None
                last_error = CatalogUnavailable(f"Catalog answered {error.code}.", status=error.code, body=body)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
                last_error = error
            if attempt < self.attempts:
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise CatalogUnavailable(
            f"Catalog at {self.base_url} is unavailable after {self.attempts} attempt(s): {last_error}",
            status=getattr(last_error, "status", None),
        ) from last_error


def _parse(raw: bytes, *, status: int) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CatalogError("Catalog's answer is not JSON.", status=status) from error


def _safe_body(error: urllib.error.HTTPError) -> Any:
    try:
        return json.loads(error.read().decode("utf-8"))
    except Exception:
        return None
