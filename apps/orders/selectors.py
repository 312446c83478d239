"""Reads of the orders service: carts priced with catalog's current prices, and shoppers' orders."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet, Sum

from apps.orders import integrations
from apps.orders.access import OrderGrant
from apps.orders.errors import (
    CartNotFound,
    OrderNotFound,
    ShippingDestinationUnsupported,
    ShippingMethodUnavailable,
    VoucherCustomerLimit,
    VoucherExpired,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
    VoucherUnknown,
    VoucherUsedUp,
)
from apps.orders.models import Cart, Order, Refund
from apps.orders.pricing.basket import Destination, basket_price
from apps.orders.pricing.money import quantize
from apps.orders.pricing.totals import BasketLine, LinePrice, Pricing

ORDER_ORDERINGS = ("created_at", "-created_at", "total", "-total")
VOUCHER_ERRORS = (
    VoucherUnknown,
    VoucherExpired,
    VoucherUsedUp,
    VoucherCustomerLimit,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
)


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
    discount: Decimal | None = None
    tax: Decimal | None = None


@dataclass(frozen=True)
class PricedCart:
    cart_id: uuid.UUID | None
    lines: list[PricedCartLine]
    currency: str | None
    # None for an empty cart, lines in several currencies (checkout refuses it), or a destination
    # the shop does not ship to (pricing_error says which).
    pricing: Pricing | None
    purchasable: bool
    voucher_code: str = ""
    # The code of a refusal met while pricing (a voucher no longer valid is left out and named here).
    pricing_error: str | None = None
    shipping_options: list[Pricing] = field(default_factory=list)


def cart_basket_lines(lines: Sequence[tuple[str, int]], variants: Mapping[str, Any]) -> list[BasketLine]:
    """The cart's lines as the pricing function reads them, with catalog's current snapshot."""
    return [
        BasketLine(
            sku=sku,
            unit_price=variants[sku].price,
            quantity=quantity,
            tax_class=variants[sku].tax_class,
            weight_grams=variants[sku].weight_grams,
            category_slugs=variants[sku].category_slugs,
        )
        for sku, quantity in lines
        if sku in variants
    ]


def _priced_line(sku: str, quantity: int, variant: Any | None, price: LinePrice | None) -> PricedCartLine:
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
        discount=price.discount if price else None,
        tax=price.tax if price else None,
    )


def cart_priced(
    *,
    cart: Cart | None,
    destination: Destination | None = None,
    shipping_method: str | None = None,
    customer_id: uuid.UUID | None = None,
    variants: Mapping[str, Any] | None = None,
) -> PricedCart:
    """The cart with catalog's current unit prices and availability, priced by the one pricing
    function for `destination` (the shop's default country when none): discounts, shipping
    (`shipping_method`, or the cheapest), tax and total. One catalog call for all lines, or none
    for the SKUs in `variants`, a snapshot the same request has just read (services/cart.py)."""
    lines = list(cart.lines.all()) if cart is not None else []
    known = variants or {}
    missing = [line.sku for line in lines if line.sku not in known]
    variants = {**known, **integrations.catalog_variants(skus=missing)} if missing else known
    currencies = {variants[line.sku].currency for line in lines if line.sku in variants}
    currency = next(iter(currencies)) if len(currencies) == 1 else None
    voucher_code = cart.voucher_code if cart is not None else ""
    basket, error = None, None
    if currency is not None:
        destination = destination or Destination.parse(country=settings.ORDERS_DEFAULT_COUNTRY)
        basket_lines = cart_basket_lines([(line.sku, line.quantity) for line in lines], variants)
        arguments = {"lines": basket_lines, "currency": currency, "destination": destination}
        try:
            try:
                basket = basket_price(
                    **arguments, shipping_method=shipping_method, voucher_code=voucher_code, customer_id=customer_id
                )
            except VOUCHER_ERRORS as refusal:
                # The cart still shows, priced without the code, and says why the code is off.
                error = refusal.default_code
                basket = basket_price(**arguments, shipping_method=shipping_method)
        except (ShippingDestinationUnsupported, ShippingMethodUnavailable) as refusal:
            error = refusal.default_code
    by_sku = {price.sku: price for price in basket.pricing.lines} if basket else {}
    priced = [_priced_line(line.sku, line.quantity, variants.get(line.sku), by_sku.get(line.sku)) for line in lines]
    return PricedCart(
        cart_id=cart.id if cart is not None else None,
        lines=priced,
        currency=currency,
        pricing=basket.pricing if basket else None,
        purchasable=bool(priced) and len(currencies) == 1 and all(line.purchasable for line in priced),
        voucher_code=voucher_code,
        pricing_error=error,
        shipping_options=basket.options if basket else [],
    )


def order_get_for_customer(*, customer_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    """The shopper's own order, with lines, history, refunds and parcels; another shopper's is 404."""
    return order_get_granted(grant=OrderGrant(order_id=order_id, customer_id=customer_id))


def order_get_granted(*, grant: OrderGrant) -> Order:
    """The order a grant opens, with lines, history, refunds and parcels: the signed-in shopper's own
    (another shopper's is 404), or the one its access token was signed for."""
    orders = Order.objects.filter(pk=grant.order_id)
    if grant.customer_id is not None:
        orders = orders.filter(customer_id=grant.customer_id)
    order = orders.prefetch_related("lines", "status_changes", "refunds", "shipments__lines").first()
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


def order_money_ledger() -> dict[str, str]:
    """Per order that took money, captured minus refunded as "<amount> <currency>" (one side of
    the money invariant; payments' ledger is the other)."""
    rows = (
        Order.objects.exclude(amount_captured=0, amount_refunded=0)
        .values_list("id", "amount_captured", "amount_refunded", "currency")
        .order_by("id")
    )
    return {str(order_id): f"{captured - refunded} {currency}" for order_id, captured, refunded, currency in rows}
