"""Writes of the orders service: carts, checkout, the order state machine and the checkout saga it
orchestrates, shipping, cancellation and refunds. Every change and the events it publishes commit
in one transaction on the orders database; every status change goes through order_transition."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
from apps.orders import integrations
from apps.orders.contracts import events as contract
from apps.orders.errors import (
    CartChanged,
    CartEmpty,
    CartLimitReached,
    CartLineNotFound,
    CartNotFound,
    IdempotencyKeyReused,
    IllegalTransition,
    InvalidQuantity,
    InvalidRefund,
    ItemsUnavailable,
    MixedCurrencies,
    RefundNotAllowed,
    RefundTooLarge,
    UnknownSku,
)
from apps.orders.models import (
    Cart,
    CartLine,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
    Refund,
)
from apps.orders.pricing import PricedLine, line_refund_amount, minor_unit, money_str, quantize, totals_calculate
from apps.orders.selectors import cart_token_hash, order_get_for_customer, order_refundable_amount

logger = logging.getLogger(__name__)

SERVICE = "orders"
S = OrderStatus

# The state machine. Anything not listed is illegal and raises IllegalTransition (409).
# "Paid" and "confirmed" are one state: orders confirms the moment payments reports the capture.
# partially_refunded keeps the order's fulfilment going (a confirmed order refunded in part is
# still shipped); the services check shipped_at where "before shipping" matters.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.STOCK_RESERVED, S.CANCELLED}),
    S.STOCK_RESERVED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.SHIPPED, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.SHIPPED, S.DELIVERED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Saga steps waiting on another service; the timeout task gives up on them.
WAITING_STATUSES = (S.PENDING, S.STOCK_RESERVED)

SYSTEM_ACTOR = "system"


def customer_actor(customer_id: uuid.UUID | str) -> str:
    return f"customer:{customer_id}"


def staff_actor(user: Any) -> str:
    return f"staff:{user.get_username()}"


# --- State machine -----------------------------------------------------------------------------


def _order_lock(order_id: uuid.UUID | str) -> Order | None:
    """The order, its row locked until the surrounding transaction ends."""
    return Order.objects.select_for_update().filter(pk=order_id).first()


def order_transition(*, order: Order, to: str, reason: str, actor: str) -> Order:
    """Move `order` to status `to`, recording who and why. The row is locked and its status read
    again under the lock, so two concurrent transitions cannot both pass the check. An illegal
    transition raises IllegalTransition (409 "illegal_transition") and changes nothing."""
    with atomic(SERVICE):
        current = Order.objects.select_for_update().values_list("status", flat=True).get(pk=order.pk)
        if to not in ALLOWED_TRANSITIONS[current]:
            raise IllegalTransition(
                f"Order {order.number} cannot go from {current} to {to}.",
                extra={"from_status": current, "to_status": to},
            )
        now = timezone.now()
        order.status = to
        order.status_changed_at = now
        order.save(update_fields=["status", "status_changed_at", "updated_at"])
        OrderStatusChange.objects.create(order=order, from_status=current, to_status=to, reason=reason, actor=actor)
    return order


# --- Events ------------------------------------------------------------------------------------


def _contract_lines(order: Order) -> list[contract.OrderLine]:
    return [contract.OrderLine(sku=line.sku, quantity=line.quantity) for line in order.lines.all()]


def _publish(event_type: str, payload: Any) -> None:
    publish(producer=SERVICE, event_type=event_type, payload=payload)


def payment_idempotency_key(order: Order) -> str:
    """Deterministic per order: a redelivered stock.reserved, or a second request for the same
    order, can never charge the shopper twice."""
    return f"order-{order.id}-payment"


# --- Carts -------------------------------------------------------------------------------------


def cart_for_customer(*, customer_id: uuid.UUID) -> Cart:
    """The shopper's one active cart, made on first use (the partial unique index settles a race)."""
    cart = Cart.objects.filter(customer_id=customer_id, status=Cart.Status.ACTIVE).first()
    if cart is not None:
        return cart
    try:
        with atomic(SERVICE):
            return Cart.objects.create(customer_id=customer_id)
    except IntegrityError:
        return Cart.objects.get(customer_id=customer_id, status=Cart.Status.ACTIVE)


def validate_line_quantity(quantity: int, *, field: str = "quantity") -> None:
    limit = settings.ORDERS_MAX_LINE_QUANTITY
    if not 1 <= quantity <= limit:
        raise InvalidQuantity(
            f"The quantity must be between 1 and {limit}.",
            extra={"errors": {field: [f"Must be between 1 and {limit}."]}, "max_quantity": limit},
        )


def _check_sellable(sku: str) -> None:
    variant = integrations.catalog_variants(skus=[sku]).get(sku)
    if variant is None or not variant.active:
        raise UnknownSku(f"The catalog has no sellable variant with SKU {sku!r}.", extra={"sku": sku})


def cart_anonymous_create(*, sku: str, quantity: int) -> tuple[Cart, str]:
    """A new anonymous cart holding its first line, and the cart's token. Only the token's hash
    is stored: the token is the shopper's credential for the cart, returned once. Nothing is
    created when the line is refused."""
    validate_line_quantity(quantity)
    _check_sellable(sku)
    token = secrets.token_urlsafe(32)
    with atomic(SERVICE):
        cart = Cart.objects.create(token_hash=cart_token_hash(token))
        CartLine.objects.create(cart=cart, sku=sku, quantity=quantity)
    return cart, token


def cart_line_add(*, sku: str, quantity: int, cart: Cart | None = None, customer_id: uuid.UUID | None = None) -> Cart:
    """Add `quantity` of `sku` to `cart`, or to the shopper's cart (made on first use), adding to
    any quantity already there. The SKU must be a sellable catalog variant and the resulting
    quantity within the limit; a refused line changes nothing (no cart is made for it)."""
    validate_line_quantity(quantity)
    _check_sellable(sku)
    if cart is None:
        if customer_id is None:
            raise TypeError("cart_line_add needs a cart or a customer_id")
        cart = cart_for_customer(customer_id=customer_id)
    with atomic(SERVICE):
        cart = Cart.objects.select_for_update().get(pk=cart.pk)
        line = cart.lines.filter(sku=sku).first()
        if line is None:
            if cart.lines.count() >= settings.ORDERS_MAX_CART_LINES:
                raise CartLimitReached()
            CartLine.objects.create(cart=cart, sku=sku, quantity=quantity)
        else:
            validate_line_quantity(line.quantity + quantity)
            line.quantity += quantity
            line.save(update_fields=["quantity"])
        cart.save(update_fields=["updated_at"])
    return cart


def cart_line_set_quantity(*, cart: Cart, sku: str, quantity: int) -> CartLine:
    validate_line_quantity(quantity)
    with atomic(SERVICE):
        line = CartLine.objects.select_for_update().filter(cart=cart, sku=sku).first()
        if line is None:
            raise CartLineNotFound(extra={"sku": sku})
        line.quantity = quantity
        line.save(update_fields=["quantity"])
    return line


def cart_line_remove(*, cart: Cart, sku: str) -> None:
    with atomic(SERVICE):
        deleted, _ = CartLine.objects.filter(cart=cart, sku=sku).delete()
    if not deleted:
        raise CartLineNotFound(extra={"sku": sku})


def cart_merge(*, customer_id: uuid.UUID, token: str) -> Cart:
    """Move an anonymous cart's lines into the shopper's cart (quantities add up, capped at the
    line limit) and retire the anonymous cart, so its token stops working."""
    target = cart_for_customer(customer_id=customer_id)
    with atomic(SERVICE):
        source = (
            Cart.objects.select_for_update()
            .filter(token_hash=cart_token_hash(token), customer_id__isnull=True, status=Cart.Status.ACTIVE)
            .first()
        )
        if source is None:
            raise CartNotFound()
        target = Cart.objects.select_for_update().get(pk=target.pk)
        existing = {line.sku: line for line in target.lines.all()}
        limit = settings.ORDERS_MAX_LINE_QUANTITY
        for line in source.lines.all():
            if line.sku in existing:
                kept = existing[line.sku]
                kept.quantity = min(limit, kept.quantity + line.quantity)
                kept.save(update_fields=["quantity"])
            elif len(existing) < settings.ORDERS_MAX_CART_LINES:
                existing[line.sku] = CartLine.objects.create(cart=target, sku=line.sku, quantity=line.quantity)
        source.lines.all().delete()
        source.status = Cart.Status.MERGED
        source.save(update_fields=["status", "updated_at"])
        target.save(update_fields=["updated_at"])
    return target


# --- Checkout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def _fingerprint(*, shipping_address: Mapping[str, Any], payment_method_token: str) -> str:
    body = {"shipping_address": dict(shipping_address), "payment_method_token": payment_method_token}
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
) -> CheckoutResult:
    """Turn the shopper's cart into a pending order priced with catalog's current prices, empty
    the cart and publish order.created, all in one transaction. The same Idempotency-Key with the
    same body returns the same order; with a different body it is refused."""
    fingerprint = _fingerprint(shipping_address=shipping_address, payment_method_token=payment_method_token)
    existing = Order.objects.filter(customer_id=customer_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, fingerprint)

    cart = Cart.objects.filter(customer_id=customer_id, status=Cart.Status.ACTIVE).first()
    lines = list(cart.lines.all()) if cart else []
    if not lines:
        raise CartEmpty()
    # The catalog call happens outside the transaction: no row lock is held across the network.
    variants = integrations.catalog_variants(skus=[line.sku for line in lines])
    currency, priced = _price_cart_lines(lines, variants)
    tax_rate = Decimal(settings.ORDERS_TAX_RATE)
    totals = totals_calculate(
        lines=[PricedLine(sku=line.sku, unit_price=variant.price, quantity=line.quantity) for line, variant in priced],
        currency=currency,
        shipping_flat_rate=Decimal(settings.ORDERS_SHIPPING_FLAT_RATE),
        free_shipping_threshold=Decimal(settings.ORDERS_FREE_SHIPPING_THRESHOLD),
        tax_rate=tax_rate,
    )
    try:
        with atomic(SERVICE):
            locked_cart = Cart.objects.select_for_update().get(pk=cart.pk)
            # A concurrent request with the same key may have won while this one waited for the lock.
            existing = Order.objects.filter(customer_id=customer_id, idempotency_key=idempotency_key).first()
            if existing is not None:
                return _replay(existing, fingerprint)
            current = {line.sku: line.quantity for line in locked_cart.lines.all()}
            if current != {line.sku: line.quantity for line in lines}:
                raise CartChanged()
            now = timezone.now()
            order = Order.objects.create(
                number=_order_number(),
                customer_id=customer_id,
                email=email,
                status=S.PENDING,
                status_changed_at=now,
                currency=currency,
                subtotal=totals.subtotal,
                shipping=totals.shipping,
                tax=totals.tax,
                total=totals.total,
                tax_rate=tax_rate,
                shipping_address=dict(shipping_address),
                payment_method_token=payment_method_token,
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
            )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    sku=line.sku,
                    product_name=variant.product_name,
                    variant_name=variant.variant_name,
                    unit_price=variant.price,
                    currency=currency,
                    quantity=line.quantity,
                    line_total=quantize(variant.price * line.quantity, currency),
                )
                for line, variant in priced
            )
            OrderStatusChange.objects.create(
                order=order, from_status="", to_status=S.PENDING, reason="checkout", actor=customer_actor(customer_id)
            )
            locked_cart.lines.all().delete()
            locked_cart.save(update_fields=["updated_at"])
            _publish(
                contract.ORDER_CREATED,
                contract.OrderCreated(
                    order_id=str(order.id),
                    order_number=order.number,
                    customer_id=str(customer_id),
                    lines=[contract.OrderLine(sku=line.sku, quantity=line.quantity) for line, _ in priced],
                ),
            )
    except IntegrityError:
        # The unique (customer, key) index caught a concurrent twin that committed first.
        existing = Order.objects.filter(customer_id=customer_id, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    logger.info("order %s placed", order.number, extra={"order_id": str(order.id)})
    return CheckoutResult(order=order, created=True)


# --- Cancellation and compensation ---------------------------------------------------------------


def _refund_publish(refund: Refund, order: Order) -> None:
    _publish(
        contract.REFUND_REQUESTED,
        contract.RefundRequested(
            order_id=str(order.id),
            order_number=order.number,
            refund_id=str(refund.id),
            amount=money_str(refund.amount, refund.currency),
            currency=refund.currency,
            reason=refund.reason,
            restock=[contract.OrderLine(sku=line["sku"], quantity=line["quantity"]) for line in refund.lines]
            if refund.restock
            else [],
        ),
    )


# Once order.confirmed is out, catalog has committed the stock (the units left the shelf), and
# order.cancelled only releases a reservation still held; from these statuses a cancellation
# must name the goods to put back, in the refund's restock lines.
STOCK_COMMITTED_STATUSES = (S.CONFIRMED, S.PARTIALLY_REFUNDED)


def _refund_all_captured(order: Order, *, reason: str, actor: str, restock: bool = False) -> Refund | None:
    """Compensation: give back whatever was captured and not refunded; with `restock`, every unit
    not yet refunded goes back to stock with it."""
    amount = order_refundable_amount(order=order)
    if amount <= 0:
        return None
    lines = []
    if restock:
        for line in order.lines.all():
            if line.quantity > line.quantity_refunded:
                lines.append({"sku": line.sku, "quantity": line.quantity - line.quantity_refunded})
                line.quantity_refunded = line.quantity
                line.save(update_fields=["quantity_refunded"])
    refund = Refund.objects.create(
        order=order,
        amount=amount,
        currency=order.currency,
        reason=reason,
        lines=lines,
        restock=bool(lines),
        requested_by=actor,
    )
    _refund_publish(refund, order)
    return refund


def _order_cancel_locked(order: Order, *, reason: str, actor: str) -> Order:
    if order.status == S.PARTIALLY_REFUNDED and order.shipped_at is not None:
        raise IllegalTransition(
            f"Order {order.number} has shipped; refund it instead.",
            extra={"from_status": order.status, "to_status": S.CANCELLED},
        )
    stock_committed = order.status in STOCK_COMMITTED_STATUSES
    order_transition(order=order, to=S.CANCELLED, reason=reason, actor=actor)
    order.cancel_reason = reason[:50]
    order.payment_method_token = ""
    order.save(update_fields=["cancel_reason", "payment_method_token", "updated_at"])
    _publish(
        contract.ORDER_CANCELLED,
        contract.OrderCancelled(
            order_id=str(order.id),
            order_number=order.number,
            customer_id=str(order.customer_id),
            email=order.email,
            reason=reason,
            lines=_contract_lines(order),
        ),
    )
    _refund_all_captured(order, reason=f"order cancelled: {reason}", actor=actor, restock=stock_committed)
    return order


def order_cancel(*, order: Order, reason: str, actor: str) -> Order:
    """Cancel before shipping (shopper, staff or a failed saga step), publish order.cancelled
    (catalog releases a held reservation, notifications tell the shopper) and ask for any captured
    money back (refund.requested, restocking the goods if catalog had committed them)."""
    with atomic(SERVICE):
        locked = _order_lock(order.pk)
        return _order_cancel_locked(locked, reason=reason, actor=actor)


def order_cancel_by_customer(*, customer_id: uuid.UUID, order_id: uuid.UUID) -> Order:
    order = order_get_for_customer(customer_id=customer_id, order_id=order_id)
    return order_cancel(order=order, reason="customer_request", actor=customer_actor(customer_id))


# --- Fulfilment ----------------------------------------------------------------------------------


def order_ship(*, order: Order, carrier: str, tracking_number: str, actor: str) -> Order:
    with atomic(SERVICE):
        locked = _order_lock(order.pk)
        if locked.shipped_at is not None:
            raise IllegalTransition(
                f"Order {locked.number} has already shipped.",
                extra={"from_status": locked.status, "to_status": S.SHIPPED},
            )
        order_transition(order=locked, to=S.SHIPPED, reason=f"shipped with {carrier}", actor=actor)
        locked.carrier = carrier
        locked.tracking_number = tracking_number
        locked.shipped_at = locked.status_changed_at
        locked.save(update_fields=["carrier", "tracking_number", "shipped_at", "updated_at"])
        _publish(
            contract.ORDER_SHIPPED,
            contract.OrderShipped(
                order_id=str(locked.id),
                order_number=locked.number,
                customer_id=str(locked.customer_id),
                email=locked.email,
                carrier=carrier,
                tracking_number=tracking_number,
            ),
        )
    return locked


def order_mark_delivered(*, order: Order, actor: str) -> Order:
    with atomic(SERVICE):
        locked = _order_lock(order.pk)
        if locked.shipped_at is None:
            raise IllegalTransition(
                f"Order {locked.number} has not shipped.",
                extra={"from_status": locked.status, "to_status": S.DELIVERED},
            )
        return order_transition(order=locked, to=S.DELIVERED, reason="delivered", actor=actor)


# --- Refunds -------------------------------------------------------------------------------------


def order_refund_request(
    *,
    order: Order,
    amount: Decimal | None = None,
    lines: Mapping[str, int] | None = None,
    restock: bool = False,
    actor: str,
    reason: str = "",
) -> Refund:
    """Ask payments to refund part or all of the captured money, and publish refund.requested.

    Give `amount`, or `lines` ({sku: quantity}, refunded at their price plus the tax charged on
    it), or neither for everything still refundable. `restock` asks catalog to put the refunded
    lines back in stock (by line or in full only: an amount names no goods). Refusals (more than
    captured minus refunded and in-flight refunds, more units than sold) change nothing."""
    if amount is not None and lines:
        raise InvalidRefund("Refund by amount or by lines, not both.")
    with atomic(SERVICE):
        order = _order_lock(order.pk)
        if order.amount_captured <= 0:
            raise RefundNotAllowed()
        available = order_refundable_amount(order=order)
        order_lines = {line.sku: line for line in order.lines.all()}
        refunded_lines: list[dict[str, Any]] = []
        if lines:
            total = Decimal("0")
            for sku, quantity in lines.items():
                line = order_lines.get(sku)
                if line is None:
                    raise InvalidRefund(f"The order has no line {sku!r}.", extra={"sku": sku})
                remaining = line.quantity - line.quantity_refunded
                if not 1 <= quantity <= remaining:
                    raise InvalidRefund(f"Line {sku!r} can be refunded 1 to {remaining} units.", extra={"sku": sku})
                total += line_refund_amount(
                    unit_price=line.unit_price, quantity=quantity, tax_rate=order.tax_rate, currency=order.currency
                )
                refunded_lines.append({"sku": sku, "quantity": quantity})
            # Per-line rounding can put the last units one minor unit above what is left: refund
            # what is left rather than refuse.
            amount = available if Decimal("0") < total - available <= minor_unit(order.currency) else total
        elif amount is not None:
            if amount <= 0 or quantize(amount, order.currency) != amount:
                raise InvalidRefund(
                    f"The amount must be positive, in whole {order.currency} minor units.",
                    extra={"errors": {"amount": ["Must be positive and on the currency's minor unit."]}},
                )
            if restock:
                raise InvalidRefund("An amount refund names no goods to restock; refund by line to restock.")
        else:
            amount = available
            refunded_lines = [
                {"sku": line.sku, "quantity": line.quantity - line.quantity_refunded}
                for line in order_lines.values()
                if line.quantity > line.quantity_refunded
            ]
        if amount <= 0 or amount > available:
            asked = money_str(amount, order.currency)
            left = money_str(max(available, Decimal("0")), order.currency)
            raise RefundTooLarge(
                f"Refund of {asked} {order.currency} asked; {left} {order.currency} can still be refunded.",
                extra={"requested": asked, "refundable": left, "currency": order.currency},
            )
        for item in refunded_lines:
            line = order_lines[item["sku"]]
            line.quantity_refunded += item["quantity"]
            line.save(update_fields=["quantity_refunded"])
        refund = Refund.objects.create(
            order=order,
            amount=amount,
            currency=order.currency,
            reason=reason or "staff refund",
            lines=refunded_lines,
            restock=restock and bool(refunded_lines),
            requested_by=actor,
        )
        _refund_publish(refund, order)
    return refund


# --- The saga: inbound steps (called by handlers.py) ---------------------------------------------


def _saga_order(order_id: str, event_type: str) -> Order | None:
    order = _order_lock(order_id)
    if order is None:
        # Not ours (another environment's event) or a bug upstream; retrying cannot help.
        logger.warning("%s for unknown order %s ignored", event_type, order_id, extra={"order_id": order_id})
    return order


def _ignored(order: Order, event_type: str) -> None:
    # Redelivery or a step that arrives after the saga moved on: the state check makes it a no-op.
    logger.info(
        "%s ignored for order %s in status %s",
        event_type,
        order.number,
        order.status,
        extra={"order_id": str(order.id)},
    )


def saga_stock_reserved(*, order_id: str) -> None:
    """Stock is held: ask payments to capture."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "stock.reserved")
        if order is None:
            return
        if order.status != S.PENDING:
            _ignored(order, "stock.reserved")
            return
        order_transition(order=order, to=S.STOCK_RESERVED, reason="stock reserved", actor="event:catalog")
        order.payment_status = PaymentStatus.REQUESTED
        order.save(update_fields=["payment_status", "updated_at"])
        _publish(
            contract.PAYMENT_REQUESTED,
            contract.PaymentRequested(
                order_id=str(order.id),
                order_number=order.number,
                customer_id=str(order.customer_id),
                amount=money_str(order.total, order.currency),
                currency=order.currency,
                payment_method_token=order.payment_method_token,
                idempotency_key=payment_idempotency_key(order),
            ),
        )


def saga_stock_rejected(*, order_id: str) -> None:
    with atomic(SERVICE):
        order = _saga_order(order_id, "stock.rejected")
        if order is None:
            return
        if order.status != S.PENDING:
            _ignored(order, "stock.rejected")
            return
        _order_cancel_locked(order, reason="out_of_stock", actor="event:catalog")


def saga_payment_succeeded(*, order_id: str, payment_id: str, amount: Decimal, currency: str) -> None:
    """Payment captured: confirm the order. A capture for an order that was cancelled meanwhile
    (timeout, shopper) is recorded and refunded at once."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.succeeded")
        if order is None:
            return
        if order.payment_id == payment_id and order.amount_captured > 0:
            _ignored(order, "payment.succeeded")
            return
        if currency != order.currency:
            logger.error(
                "payment %s for order %s in %s, order is in %s", payment_id, order.number, currency, order.currency
            )
        order.payment_id = payment_id
        order.amount_captured += amount
        order.payment_status = PaymentStatus.CAPTURED
        order.payment_method_token = ""  # the payment is decided: no credential kept
        order.save(
            update_fields=["payment_id", "amount_captured", "payment_status", "payment_method_token", "updated_at"]
        )
        if order.status == S.STOCK_RESERVED and currency == order.currency and amount >= order.total:
            order_transition(order=order, to=S.CONFIRMED, reason="payment captured", actor="event:payments")
            _publish(
                contract.ORDER_CONFIRMED,
                contract.OrderConfirmed(
                    order_id=str(order.id),
                    order_number=order.number,
                    customer_id=str(order.customer_id),
                    email=order.email,
                    total=money_str(order.total, order.currency),
                    currency=order.currency,
                    lines=_contract_lines(order),
                ),
            )
        elif order.status == S.STOCK_RESERVED:
            # Captured the wrong amount: do not ship against it; cancel and give it back.
            _order_cancel_locked(order, reason="payment_mismatch", actor="event:payments")
        elif order.status == S.CANCELLED:
            _refund_all_captured(order, reason="payment captured after cancellation", actor="event:payments")
        else:
            _ignored(order, "payment.succeeded")


def saga_payment_failed(*, order_id: str, reason_code: str) -> None:
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.failed")
        if order is None:
            return
        if order.status not in WAITING_STATUSES:
            _ignored(order, "payment.failed")
            return
        order.payment_status = PaymentStatus.FAILED
        order.save(update_fields=["payment_status", "updated_at"])  # the cancel below forgets the token
        _order_cancel_locked(order, reason=f"payment_failed:{reason_code}"[:50], actor="event:payments")


def saga_payment_refunded(*, order_id: str, refund_id: str, amount: Decimal, currency: str) -> None:
    """Money went back: record it against the refund asked for (or a refund made in payments'
    own admin) and move the order to refunded or partially_refunded."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.refunded")
        if order is None:
            return
        refund = _refund_for_event(order, refund_id)
        if refund is not None and refund.status == Refund.Status.COMPLETED:
            _ignored(order, "payment.refunded")
            return
        now = timezone.now()
        if refund is None:
            refund = Refund(
                order=order, currency=currency, reason="refunded by payments", requested_by="event:payments"
            )
        refund.amount = amount
        refund.status = Refund.Status.COMPLETED
        refund.completed_at = now
        refund.payment_refund_id = refund_id
        refund.save()
        order.amount_refunded += amount
        fully = order.amount_refunded >= order.amount_captured
        order.payment_status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
        order.save(update_fields=["amount_refunded", "payment_status", "updated_at"])
        target = S.REFUNDED if fully else S.PARTIALLY_REFUNDED
        # A cancelled order stays cancelled: its refund is the compensation, shown by payment_status.
        if target in ALLOWED_TRANSITIONS[order.status]:
            order_transition(order=order, to=target, reason=f"refunded {amount} {currency}", actor="event:payments")
        else:
            _ignored(order, "payment.refunded (status kept)")


def saga_refund_failed(*, order_id: str, refund_id: str, reason_code: str) -> None:
    """Payments could not refund: the refund is marked failed, so its amount (and any lines it
    named) can be refunded again; staff see the failure in the admin."""
    with atomic(SERVICE):
        order = _saga_order(order_id, "payment.refund_failed")
        if order is None:
            return
        refund = _refund_for_event(order, refund_id)
        if refund is None or refund.status != Refund.Status.REQUESTED:
            _ignored(order, "payment.refund_failed")
            return
        refund.status = Refund.Status.FAILED
        refund.failure_reason = reason_code[:255]
        refund.save(update_fields=["status", "failure_reason"])
        lines = {line.sku: line for line in order.lines.all()}
        for item in refund.lines:
            line = lines.get(item["sku"])
            if line is not None:
                line.quantity_refunded = max(0, line.quantity_refunded - item["quantity"])
                line.save(update_fields=["quantity_refunded"])
        logger.warning(
            "refund %s of order %s failed: %s", refund.id, order.number, reason_code, extra={"order_id": str(order.id)}
        )


def _refund_for_event(order: Order, refund_id: str) -> Refund | None:
    try:
        ours = order.refunds.filter(pk=uuid.UUID(refund_id)).first()
    except ValueError:
        ours = None
    return ours or order.refunds.filter(payment_refund_id=refund_id).first()


# --- Saga timeout ----------------------------------------------------------------------------------


def orders_expire_stalled(*, now: datetime | None = None) -> int:
    """Cancel (and compensate) every order whose saga step has waited longer than
    ORDERS_SAGA_TIMEOUT_SECONDS. Each order in its own transaction: one failure stops no other."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.ORDERS_SAGA_TIMEOUT_SECONDS)
    stalled = list(
        Order.objects.filter(status__in=WAITING_STATUSES, status_changed_at__lt=cutoff).values_list("id", flat=True)
    )
    expired = 0
    for order_id in stalled:
        try:
            with atomic(SERVICE):
                order = _order_lock(order_id)
                # Re-checked under the lock: the step may have answered since the scan.
                if order is None or order.status not in WAITING_STATUSES or order.status_changed_at >= cutoff:
                    continue
                _order_cancel_locked(order, reason="saga_timeout", actor=f"{SYSTEM_ACTOR}:saga-timeout")
                expired += 1
        except Exception:
            logger.exception("could not expire stalled order %s", order_id, extra={"order_id": str(order_id)})
    if expired:
        logger.info("expired %s stalled orders", expired)
    return expired
