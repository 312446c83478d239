"""Outbound calls from orders to other services: the only place that talks to catalog.

Orders asks catalog synchronously, through catalog's contract client, for the current price and
availability of the SKUs in a cart, at two moments: when the cart is shown (and changed) and at
checkout. Why a synchronous call and not a local read copy fed by `product.updated` events:
checkout must price every line with the price catalog holds *now* (a copy is only eventually
consistent, so a shopper could be charged a stale price), and when catalog is down checkout must
fail clearly (503, "catalog_unavailable") rather than sell from a copy that may be wrong. The
stock itself is reserved asynchronously in the saga (order.created -> stock.reserved), so the
availability seen here is advisory; the reservation is authoritative.

The call runs on a kept-alive connection, has short timeouts and a few attempts with backoff
(catalog's client retries outages itself; settings CATALOG_API_*), and carries this request's
trace id. When catalog stays
unreachable the shopper gets ServiceUnavailable: a 503 problem "catalog_unavailable"
(apps.core.http.call_with_retries maps the client's error), never a hang or a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings

from apps.catalog.contracts.client import CatalogClient, CatalogError, CatalogUnavailable, VariantSnapshot
from apps.core.currencies import is_currency
from apps.core.exceptions import ServiceUnavailable
from apps.core.http import call_with_retries, trace_headers

logger = logging.getLogger(__name__)

__all__ = ["VariantSnapshot", "catalog_client", "catalog_variants"]


def catalog_client() -> CatalogClient:
    # Built per call: cheap (the kept-alive connections are the contract client's, per thread),
    # and it follows settings changes (tests point it at live_server).
    return CatalogClient(
        settings.CATALOG_API_URL,
        timeout=settings.CATALOG_API_TIMEOUT_SECONDS,
        connect_timeout=settings.CATALOG_API_CONNECT_TIMEOUT_SECONDS,
        attempts=settings.CATALOG_API_ATTEMPTS,
        backoff_seconds=settings.CATALOG_API_BACKOFF_SECONDS,
    )


def catalog_variants(*, skus: Iterable[str]) -> dict[str, VariantSnapshot]:
    """The current snapshot of each SKU catalog knows; unknown SKUs, and SKUs priced in no
    ISO 4217 currency, are absent from the result.
    Raises ServiceUnavailable ("catalog_unavailable", 503) when catalog cannot answer."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    client = catalog_client()
    headers = trace_headers()
    try:
        # The client already retried (CATALOG_API_ATTEMPTS); one more round would only multiply
        # the shopper's wait, so this maps its final error without retrying again.
        variants = call_with_retries(
            lambda: client.variants(wanted, headers=headers),
            service="catalog",
            retry_on=(CatalogUnavailable,),
            attempts=1,
            code="catalog_unavailable",
        )
    except CatalogError as error:
        # Catalog answered, but not as its contract says (a 4xx to a well-formed request, a body
        # that does not parse): to the shopper that is still "catalog cannot answer now".
        logger.error("catalog gave an unexpected answer: %s (status %s)", error, error.status)
        raise ServiceUnavailable(
            "The catalog service gave an unexpected answer; try again shortly.", code="catalog_unavailable"
        ) from error
    # A price in something that is not an ISO 4217 currency (XXX, catalog data from before the
    # check) can be neither rounded nor charged: such a SKU is not for sale, like an unknown one.
    invalid = sorted(sku for sku, variant in variants.items() if not is_currency(variant.currency))
    if invalid:
        logger.error("catalog priced %s in a code that is not a currency; not sold", ", ".join(invalid))
    return {sku: variant for sku, variant in variants.items() if sku not in invalid}
