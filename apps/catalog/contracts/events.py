"""Events the catalog service publishes and subscribes to, with payload schemas (version 1)."""

from __future__ import annotations

from dataclasses import dataclass

STOCK_RESERVED = "stock.reserved"
STOCK_REJECTED = "stock.rejected"
PRODUCT_UPDATED = "product.updated"

PUBLISHES = (STOCK_RESERVED, STOCK_REJECTED, PRODUCT_UPDATED)
# order.* are the orders service's events (apps.orders.contracts.events): the stock side of the saga;
# refund.requested (also theirs) puts refunded goods back in stock when its restock lines name any,
# order.lines_returned the goods returned from a parcel, order.lines_cancelled those never shipped.
SUBSCRIBES = (
    "staff.changed",
    "user.tokens_revoked",
    "order.created",
    "order.cancelled",
    "order.confirmed",
    "refund.requested",
    "order.lines_cancelled",
    "order.lines_returned",
)


@dataclass(frozen=True)
class ReservedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class StockReserved:
    order_id: str
    lines: list[ReservedLine]


@dataclass(frozen=True)
class ShortLine:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class StockRejected:
    order_id: str
    short: list[ShortLine]


@dataclass(frozen=True)
class ProductUpdated:
    """One variant's sellable state, for services that keep a read copy."""

    sku: str
    product_id: str
    product_name: str
    variant_name: str
    price: str
    currency: str
    active: bool
