"""Vouchers: checking a code against a cart (dates, limits, minimum spend, what it applies to),
and counting its uses at checkout race-safely: under the voucher's row lock, with a conditional
UPDATE, so two shoppers cannot both take the last use."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from decimal import Decimal

from django.db.models import F, Q
from django.utils import timezone

from apps.orders.errors import (
    VoucherCustomerLimit,
    VoucherExpired,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
    VoucherUnknown,
    VoucherUsedUp,
)
from apps.orders.models import Order, Voucher, VoucherUse
from apps.orders.pricing.money import quantize
from apps.orders.pricing.promotions import DiscountRule


def voucher_code_normalize(code: str) -> str:
    return code.strip().upper()


def voucher_rule(voucher: Voucher) -> DiscountRule:
    return DiscountRule(
        name=voucher.code,
        kind=voucher.kind,
        value=voucher.value,
        skus=frozenset(voucher.skus),
        category_slugs=frozenset(voucher.category_slugs),
    )


def voucher_check(
    *,
    code: str,
    currency: str,
    lines: Sequence[tuple[str, tuple[str, ...], Decimal]],
    customer_id: uuid.UUID | None,
    now: datetime.datetime,
    voucher: Voucher | None = None,
) -> Voucher:
    """The voucher behind `code` if the cart may use it now, else the refusal: unknown, expired,
    used up (in all or by this shopper), minimum spend not met, or nothing it applies to.
    `lines` are (sku, category slugs, amount before discounts)."""
    if voucher is None:
        voucher = Voucher.objects.filter(code=voucher_code_normalize(code), active=True).first()
    if voucher is None or not voucher.active:
        raise VoucherUnknown(extra={"voucher_code": voucher_code_normalize(code)})
    extra = {"voucher_code": voucher.code}
    if (voucher.starts_at and now < voucher.starts_at) or (voucher.ends_at and now >= voucher.ends_at):
        raise VoucherExpired(extra=extra)
    if voucher.usage_limit is not None and voucher.used_count >= voucher.usage_limit:
        raise VoucherUsedUp(extra=extra)
    if voucher.per_customer_limit is not None and customer_id is not None:
        used = VoucherUse.objects.filter(voucher=voucher, customer_id=customer_id, released_at__isnull=True).count()
        if used >= voucher.per_customer_limit:
            raise VoucherCustomerLimit(extra=extra)
    needs_currency = voucher.kind == "fixed" or voucher.min_spend is not None
    if needs_currency and voucher.currency != currency:
        raise VoucherNotApplicable(f"The voucher is for carts in {voucher.currency}.", extra=extra)
    rule = voucher_rule(voucher)
    if voucher.kind != "free_shipping" and not any(
        rule.applies_to(sku=sku, category_slugs=slugs) for sku, slugs, _ in lines
    ):
        raise VoucherNotApplicable(extra=extra)
    if voucher.min_spend is not None:
        spent = sum((amount for _, _, amount in lines), Decimal("0"))
        if spent < voucher.min_spend:
            raise VoucherMinimumNotMet(
                extra={**extra, "min_spend": str(quantize(voucher.min_spend, currency)), "currency": currency}
            )
    return voucher


def voucher_use_record(
    *, voucher: Voucher, order: Order, customer_id: uuid.UUID | None, discount: Decimal
) -> VoucherUse:
    """Count one use of `voucher` for `order`. Call inside the checkout's transaction: the row
    lock serialises concurrent checkouts on the same voucher (so the per-shopper count is
    right), and the conditional UPDATE refuses the use past the limit even without the lock.
    A guest (no `customer_id`) cannot use a code limited per shopper: a guest could not be
    counted, so each guest checkout would be a fresh allowance."""
    locked = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if locked.per_customer_limit is not None and customer_id is None:
        raise VoucherCustomerLimit(
            "This code is limited per shopper: sign in to use it.", extra={"voucher_code": locked.code}
        )
    if locked.per_customer_limit is not None:
        used = VoucherUse.objects.filter(voucher=locked, customer_id=customer_id, released_at__isnull=True).count()
        if used >= locked.per_customer_limit:
            raise VoucherCustomerLimit(extra={"voucher_code": locked.code})
    taken = (
        Voucher.objects.filter(pk=locked.pk, active=True)
        .filter(Q(usage_limit__isnull=True) | Q(used_count__lt=F("usage_limit")))
        .update(used_count=F("used_count") + 1)
    )
    if not taken:
        raise VoucherUsedUp(extra={"voucher_code": locked.code})
    return VoucherUse.objects.create(
        voucher=locked, order=order, customer_id=customer_id, discount=discount, currency=order.currency
    )


def voucher_uses_release(*, order: Order) -> int:
    """Give back the uses of a cancelled order, so its code can be used again."""
    released = 0
    for use in VoucherUse.objects.select_for_update().filter(order=order, released_at__isnull=True):
        use.released_at = timezone.now()
        use.save(update_fields=["released_at"])
        Voucher.objects.filter(pk=use.voucher_id, used_count__gt=0).update(used_count=F("used_count") - 1)
        released += 1
    return released
