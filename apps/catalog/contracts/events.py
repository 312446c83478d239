"""Events the catalog service publishes and subscribes to, with payload schemas (version 1)."""

from __future__ import annotations

STOCK_RESERVED = "stock.reserved"
STOCK_REJECTED = "stock.rejected"
PRODUCT_UPDATED = "product.updated"

PUBLISHES = (STOCK_RESERVED, STOCK_REJECTED, PRODUCT_UPDATED)
SUBSCRIBES = ("staff.changed",)
