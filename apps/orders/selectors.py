"""Reads of the orders service: carts priced with catalog's current prices, and shoppers' orders."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum

from apps.orders import integrations
from apps.orders.errors import CartNotFound, OrderNotFound
from apps.orders.models import Cart, Order, Refund
from apps.orders.pricing.money import quantize
from apps.orders.pricing.totals import PricedLine, Totals, totals_calculate

ORDER_ORDERINGS = ("created_at", "-created_at", "total", "-total")


def cart_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cart_get_by_token(*, token: str) -> Cart:
    """An anonymous cart by its token; unknown, merged or a shopper's cart is 404 alike."""
    cart = Cart.objects.filter(
        token_hash=cart_token_hash(token),
        customer_id__isnull=True,
        status=Cart.Status.ACTIVE,
    ).first()
    if cart is None:
        raise CartNotFound()
    return cart


def cart_get_for_customer(*, customer_id: uuid.UUID) -> Cart | None:
    return Cart.objects.filter(customer_id=customer_id, status=Cart.Status.ACTIVE).first()


@dataclass(frozen=True)
class PricedCartLine:
    sku: str
    quantity: int
    product_name: str
    variant_name: str
    unit_price: Decimal | None
    currency: str | None
    line_total: Decimal | None
    available: int
    # False when catalog no longer sells the SKU, or has fewer than `quantity` in stock.
    purchasable: bool


@dataclass(frozen=True)
class PricedCart:
    cart_id: uuid.UUID | None
    lines: list[PricedCartLine]
    currency: str | None
    totals: Totals | None  # None for an empty cart, or lines in several currencies (checkout refuses it)
    purchasable: bool


def _priced_line(sku: str, quantity: int, variant: Any | None) -> PricedCartLine:
    if variant is None:
        return PricedCartLine(sku, quantity, "", "", None, None, None, 0, False)
    return PricedCartLine(
        sku=sku,
        quantity=quantity,
        product_name=variant.product_name,
        variant_name=variant.variant_name,
        unit_price=variant.price,
        currency=variant.currency,
        line_total=quantize(variant.price * quantity, variant.currency),
        available=variant.available,
        purchasable=variant.active and variant.available >= quantity,
    )


def cart_priced(*, cart: Cart | None) -> PricedCart:
    """The cart with catalog's current unit prices, line totals, availability and the order
    totals it would make now. One catalog call for all lines."""
    lines = list(cart.lines.all()) if cart is not None else []
    variants: Mapping[str, Any] = integrations.catalog_variants(skus=[line.sku for line in lines]) if lines else {}
    priced = [_priced_line(line.sku, line.quantity, variants.get(line.sku)) for line in lines]
    currencies = {line.currency for line in priced if line.currency}
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    totals = None
    if currency is not None:
        totals = totals_calculate(
            lines=[
                PricedLine(sku=line.sku, unit_price=line.unit_price, quantity=line.quantity)
                for line in priced
                if line.unit_price is not None
            ],
            currency=currency,
            shipping_flat_rate=Decimal(settings.ORDERS_SHIPPING_FLAT_RATE),
            free_shipping_threshold=Decimal(settings.ORDERS_FREE_SHIPPING_THRESHOLD),
            tax_rate=Decimal(settings.ORDERS_TAX_RATE),
        )
    return PricedCart(
        cart_id=cart.id if cart is not None else None,
        lines=priced,
        currency=currency,
        totals=totals,
        purchasable=bool(priced) and len(currencies) == 1 and all(line.purchasable for line in priced),
    )


def order_get_for_customer(*, customer_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    """The shopper's own order, with lines, history and refunds; another shopper's is 404."""
    order = (
        Order.objects.filter(customer_id=customer_id, pk=order_id)
        .prefetch_related("lines", "status_changes", "refunds")
        .first()
    )
    if order is None:
        raise OrderNotFound()
    return order


def order_list(*, customer_id: uuid.UUID, filters: Mapping[str, Any] | None = None) -> QuerySet[Order]:
    """The shopper's orders, newest first by default; lines are prefetched so a page costs the
    same number of queries whatever its size. Filters: status, ordering."""
    filters = filters or {}
    queryset = Order.objects.filter(customer_id=customer_id).prefetch_related("lines")
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    ordering = filters.get("ordering") or "-created_at"
    return queryset.order_by(ordering, "-id" if ordering.startswith("-") else "id")


def order_refundable_amount(*, order: Order) -> Decimal:
    """Captured money not yet refunded, less refunds asked for and not yet done (so two requests
    in flight cannot together exceed what was captured)."""
    in_flight = order.refunds.filter(status=Refund.Status.REQUESTED).aggregate(total=Sum("amount"))["total"]
    return order.amount_captured - order.amount_refunded - (in_flight or Decimal("0"))
