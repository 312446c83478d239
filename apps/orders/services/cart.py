"""Writes of carts: a shopper's cart or an anonymous one (addressed by a token), its lines, and
the merge of an anonymous cart into the shopper's at sign-in."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from apps.core.db import atomic
from apps.orders import integrations
from apps.orders.errors import CartLimitReached, CartLineNotFound, CartNotFound, InvalidQuantity, UnknownSku
from apps.orders.integrations import VariantSnapshot
from apps.orders.models import Cart, CartLine
from apps.orders.pricing.vouchers import voucher_check
from apps.orders.selectors import cart_basket_lines, cart_token_hash
from apps.orders.services import statements
from apps.orders.services.transitions import SERVICE


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


def _check_sellable(sku: str, variants: Mapping[str, VariantSnapshot]) -> None:
    variant = variants.get(sku)
    if variant is None or not variant.active:
        raise UnknownSku(f"The catalog has no sellable variant with SKU {sku!r}.", extra={"sku": sku})


def cart_anonymous_create(*, sku: str, quantity: int) -> tuple[Cart, str]:
    """A new anonymous cart holding its first line, and the cart's token. Only the token's hash
    is stored: the token is the shopper's credential for the cart, returned once. Nothing is
    created when the line is refused."""
    validate_line_quantity(quantity)
    _check_sellable(sku, integrations.catalog_variants(skus=[sku]))
    token = secrets.token_urlsafe(32)
    with atomic(SERVICE):
        cart = Cart.objects.create(token_hash=cart_token_hash(token))
        CartLine.objects.create(cart=cart, sku=sku, quantity=quantity)
    return cart, token


@dataclass(frozen=True)
class CartLineAdded:
    """The cart after the change, its lines in hand (as `cart.lines.all()` gives them), and the
    catalog snapshot read for it (the added SKU and those already in the cart): the answer is
    priced from these without reading the lines or asking catalog again."""

    cart: Cart
    variants: dict[str, VariantSnapshot]


def cart_line_add(
    *, sku: str, quantity: int, cart: Cart | None = None, customer_id: uuid.UUID | None = None
) -> CartLineAdded:
    """Add `quantity` of `sku` to `cart`, or to the shopper's cart (made on first use), adding to
    any quantity already there. The SKU must be a sellable catalog variant and the resulting
    quantity within the limit; a refused line changes nothing (no cart is made for it)."""
    validate_line_quantity(quantity)
    if cart is None and customer_id is None:
        raise TypeError("cart_line_add needs a cart or a customer_id")
    # One catalog call, before the transaction (no lock held across the network), for the new SKU
    # and the ones already in the cart, so the answer needs no second one.
    held = (
        list(CartLine.objects.filter(cart=cart).values_list("sku", flat=True))
        if cart is not None
        else statements.customer_cart_skus(customer_id=customer_id)
    )
    variants = integrations.catalog_variants(skus=[sku, *held])
    _check_sellable(sku, variants)
    with atomic(SERVICE):
        locked = _cart_locked(cart=cart, customer_id=customer_id)
        lines = statements.cart_lines(locked)
        line = next((line for line in lines if line.sku == sku), None)
        if line is None:
            if len(lines) >= settings.ORDERS_MAX_CART_LINES:
                raise CartLimitReached()
            lines.append(CartLine.objects.create(cart=locked, sku=sku, quantity=quantity))
        else:
            validate_line_quantity(line.quantity + quantity)
            line.quantity += quantity
            line.save(update_fields=["quantity"])
        locked.save(update_fields=["updated_at"])
    locked._prefetched_objects_cache = {"lines": lines}  # the newest line is last, as the ordering puts it
    return CartLineAdded(cart=locked, variants=variants)


def _cart_locked(*, cart: Cart | None, customer_id: uuid.UUID | None) -> Cart:
    """`cart`, or the shopper's active cart (made if none), its row locked for the transaction."""
    if cart is not None:
        return statements.cart_locked(cart_id=cart.pk)
    locked = statements.customer_cart_locked(customer_id=customer_id)
    if locked is None:  # the shopper's first line
        locked = statements.cart_locked(cart_id=cart_for_customer(customer_id=customer_id).pk)
    return locked


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
    line limit), its voucher code too if the shopper's cart has none, and retire the anonymous
    cart, so its token stops working."""
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
        # A code entered before signing in follows the goods, unless the shopper's cart has one.
        if source.voucher_code and not target.voucher_code:
            target.voucher_code = source.voucher_code
        target.save(update_fields=["voucher_code", "updated_at"])
    return target


def cart_voucher_apply(*, cart: Cart, code: str, customer_id: uuid.UUID | None = None) -> Cart:
    """Put a voucher code on the cart (one at most: a new code replaces the old). The code is
    checked against the cart now (unknown, expired, used up, minimum spend, applies to nothing:
    each its own 422); a refused code leaves the cart as it was. Checkout checks it again."""
    lines = list(cart.lines.all())
    variants = integrations.catalog_variants(skus=[line.sku for line in lines]) if lines else {}
    basket = cart_basket_lines([(line.sku, line.quantity) for line in lines], variants)
    currencies = {variant.currency for variant in variants.values()}
    voucher = voucher_check(
        code=code,
        currency=next(iter(currencies)) if len(currencies) == 1 else "",
        lines=[(line.sku, line.category_slugs, line.unit_price * line.quantity) for line in basket],
        customer_id=customer_id,
        now=timezone.now(),
    )
    with atomic(SERVICE):
        Cart.objects.filter(pk=cart.pk).update(voucher_code=voucher.code, updated_at=timezone.now())
    cart.refresh_from_db()
    return cart


def cart_voucher_remove(*, cart: Cart) -> Cart:
    with atomic(SERVICE):
        Cart.objects.filter(pk=cart.pk).update(voucher_code="", updated_at=timezone.now())
    cart.refresh_from_db()
    return cart
