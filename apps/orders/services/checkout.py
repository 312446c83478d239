"""Checkout: the shopper's cart (or a guest's anonymous cart, with an email address) becomes a
pending order priced with catalog's current prices, the cart is emptied and order.created starts
the saga, in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.db import atomic
from apps.orders import integrations
from apps.orders.contracts import events as contract
from apps.orders.errors import CartChanged, CartEmpty, IdempotencyKeyReused, ItemsUnavailable, MixedCurrencies
from apps.orders.models import Cart, CartLine, Order, OrderLine, OrderStatusChange
from apps.orders.pricing.basket import Destination, basket_price
from apps.orders.pricing.totals import tax_breakdown
from apps.orders.pricing.vouchers import voucher_use_record
from apps.orders.selectors import cart_basket_lines
from apps.orders.services import statements
from apps.orders.services.saga_metrics import order_placed_report
from apps.orders.services.transitions import GUEST_ACTOR, SERVICE, S, customer_actor, event_publish

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutResult:
    # A new order comes with its lines, history, refunds and parcels as the answer shows them; an
    # earlier one (a replay) without.
    order: Order
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def _fingerprint(
    *,
    shipping_address: Mapping[str, Any],
    payment_method_token: str,
    shipping_method: str | None,
    email: str | None = None,
) -> str:
    body = {"shipping_address": dict(shipping_address), "payment_method_token": payment_method_token}
    if shipping_method is not None:
        body["shipping_method"] = shipping_method
    if email is not None:  # a guest's (a shopper's comes from their account, not the request)
        body["email"] = email
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _replay(order: Order, fingerprint: str) -> CheckoutResult:
    if order.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(extra={"order_id": str(order.id)})
    return CheckoutResult(order=order, created=False)


def _order_number() -> str:
    # 10 characters of an unambiguous alphabet (no 0/O, 1/I): ~2^50 numbers, readable on a phone.
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "SO-" + "".join(secrets.choice(alphabet) for _ in range(10))


def _price_cart_lines(lines: list[CartLine], variants: Mapping[str, Any]) -> tuple[str, list[tuple[CartLine, Any]]]:
    problems = []
    for line in lines:
        variant = variants.get(line.sku)
        if variant is None or not variant.active:
            problems.append({"sku": line.sku, "reason": "not_sold"})
        elif variant.available < line.quantity:
            problems.append(
                {
                    "sku": line.sku,
                    "reason": "insufficient_stock",
                    "requested": line.quantity,
                    "available": variant.available,
                }
            )
    if problems:
        raise ItemsUnavailable(extra={"items": problems})
    currencies = sorted({variants[line.sku].currency for line in lines})
    if len(currencies) != 1:
        raise MixedCurrencies(extra={"currencies": currencies})
    return currencies[0], [(line, variants[line.sku]) for line in lines]


def order_checkout(
    *,
    customer_id: uuid.UUID,
    email: str,
    idempotency_key: str,
    shipping_address: Mapping[str, Any],
    payment_method_token: str,
    shipping_method: str | None = None,
) -> CheckoutResult:
    """Turn the shopper's cart into a pending order priced with catalog's current prices by the
    pricing function the cart shows (destination, `shipping_method` or the cheapest offered, the
    cart's voucher), count the voucher's use, empty the cart and publish order.created, all in one
    transaction. The same Idempotency-Key with the same body returns the same order; with a
    different body it is refused."""
    fingerprint = _fingerprint(
        shipping_address=shipping_address, payment_method_token=payment_method_token, shipping_method=shipping_method
    )
    previous = Order.objects.filter(customer_id=customer_id)
    existing = statements.customer_order_for_key(customer_id=customer_id, idempotency_key=idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    # The shopper's active cart and its lines in one query (no lines: nothing to check out).
    lines = list(
        CartLine.objects.filter(cart__customer_id=customer_id, cart__status=Cart.Status.ACTIVE).select_related("cart")
    )
    return _checkout(
        cart=lines[0].cart if lines else None,
        lines=lines,
        customer_id=customer_id,
        previous=previous,
        email=email,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        shipping_address=shipping_address,
        payment_method_token=payment_method_token,
        shipping_method=shipping_method,
    )


def order_checkout_guest(
    *,
    cart: Cart,
    email: str,
    idempotency_key: str,
    shipping_address: Mapping[str, Any],
    payment_method_token: str,
    shipping_method: str | None = None,
) -> CheckoutResult:
    """Guest checkout: the anonymous `cart` becomes a pending order of no account, sent to
    `email`, as order_checkout does for a shopper's cart. The Idempotency-Key is scoped to the
    cart (its token is the guest's only identity); the email is part of the request it guards.
    The order is reached with its access token (apps.orders.access) until an account proves the
    email and claims it (services/guest.py)."""
    fingerprint = _fingerprint(
        shipping_address=shipping_address,
        payment_method_token=payment_method_token,
        shipping_method=shipping_method,
        email=email,
    )
    previous = Order.objects.filter(guest_cart_id=cart.id)
    existing = previous.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, fingerprint)
    return _checkout(
        cart=cart,
        lines=list(cart.lines.all()),
        customer_id=None,
        previous=previous,
        email=email,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        shipping_address=shipping_address,
        payment_method_token=payment_method_token,
        shipping_method=shipping_method,
    )


def _checkout(
    *,
    cart: Cart | None,
    lines: list[CartLine],
    customer_id: uuid.UUID | None,
    previous: QuerySet[Order],
    email: str,
    idempotency_key: str,
    fingerprint: str,
    shipping_address: Mapping[str, Any],
    payment_method_token: str,
    shipping_method: str | None,
) -> CheckoutResult:
    """The checkout both kinds share, of `cart` with its `lines` as read before the transaction;
    `previous` are the orders the Idempotency-Key is unique among."""
    if cart is None or not lines:
        raise CartEmpty()
    # The catalog call happens outside the transaction: no row lock is held across the network.
    variants = integrations.catalog_variants(skus=[line.sku for line in lines])
    currency, priced = _price_cart_lines(lines, variants)
    destination = Destination.parse(
        country=shipping_address.get("country", ""),
        region=shipping_address.get("region", ""),
        vat_number=shipping_address.get("vat_number", ""),
    )
    basket = basket_price(
        lines=cart_basket_lines([(line.sku, line.quantity) for line in lines], variants),
        currency=currency,
        destination=destination,
        shipping_method=shipping_method,
        voucher_code=cart.voucher_code,
        customer_id=customer_id,
    )
    totals = basket.pricing
    line_prices = {price.sku: price for price in totals.lines}
    try:
        with atomic(SERVICE):
            locked_cart = statements.cart_locked(cart_id=cart.pk)
            current = {line.sku: line.quantity for line in statements.cart_lines(locked_cart)}
            if current != {line.sku: line.quantity for line in lines} or locked_cart.voucher_code != cart.voucher_code:
                # A concurrent request with the same key may have won while this one waited for
                # the lock (and emptied the cart): its order is the answer. Looked for only here:
                # had it won with the cart refilled as it was, the key's unique index stops this
                # order (below).
                existing = previous.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return _replay(existing, fingerprint)
                raise CartChanged()
            now = timezone.now()
            order = Order.objects.create(
                number=_order_number(),
                customer_id=customer_id,
                guest_cart_id=cart.id if customer_id is None else None,
                email=email,
                status=S.PENDING,
                status_changed_at=now,
                currency=currency,
                subtotal=totals.subtotal,
                shipping=totals.shipping,
                tax=totals.tax,
                total=totals.total,
                tax_rate=totals.shipping_tax_rate,
                discount=totals.discount,
                shipping_tax=totals.shipping_tax,
                prices_include_tax=totals.prices_include_tax,
                tax_breakdown=tax_breakdown(totals),
                shipping_method=totals.shipping_method.code,
                shipping_method_name=totals.shipping_method.name,
                voucher_code=basket.voucher.code if basket.voucher else "",
                vat_number=destination.vat_number.number if destination.vat_number else "",
                reverse_charge=totals.reverse_charge,
                shipping_address=dict(shipping_address),
                payment_method_token=payment_method_token,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
            order_lines = OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    sku=line.sku,
                    product_name=variant.product_name,
                    variant_name=variant.variant_name,
                    unit_price=variant.price,
                    currency=currency,
                    quantity=line.quantity,
                    line_total=line_prices[line.sku].amount,
                    discount=line_prices[line.sku].discount,
                    tax_rate=line_prices[line.sku].tax_rate,
                    tax=line_prices[line.sku].tax,
                    total=line_prices[line.sku].total,
                )
                for line, variant in priced
            )
            if basket.voucher is not None:
                voucher_discount = sum(d.amount for d in totals.discounts if d.source == "voucher")
                voucher_use_record(
                    voucher=basket.voucher, order=order, customer_id=customer_id, discount=voucher_discount
                )
            placed = OrderStatusChange.objects.create(
                order=order,
                from_status="",
                to_status=S.PENDING,
                reason="checkout",
                actor=customer_actor(customer_id) if customer_id else GUEST_ACTOR,
            )
            order_placed_report(order)
            locked_cart.lines.all().delete()
            locked_cart.voucher_code = ""
            locked_cart.save(update_fields=["voucher_code", "updated_at"])
            event_publish(
                contract.ORDER_CREATED,
                contract.OrderCreated(
                    order_id=str(order.id),
                    order_number=order.number,
                    customer_id=str(customer_id) if customer_id else None,
                    lines=[contract.OrderLine(sku=line.sku, quantity=line.quantity) for line, _ in priced],
                ),
            )
    except IntegrityError:
        # The unique (customer or guest cart, key) index caught a concurrent twin that committed first.
        existing = previous.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    logger.info("order %s placed", order.number, extra={"order_id": str(order.id)})
    _related_as_made(order, lines=order_lines, history=[placed])
    return CheckoutResult(order=order, created=True)


def _related_as_made(order: Order, *, lines: list[OrderLine], history: list[OrderStatusChange]) -> None:
    """Give the new order what selectors.order_get_granted prefetches, from the rows just written
    (in the models' order), so the checkout answer is rendered without reading them back."""
    order._prefetched_objects_cache = {
        "lines": sorted(lines, key=lambda line: line.pk),
        "status_changes": history,
        "refunds": [],
        "shipments": [],
    }
