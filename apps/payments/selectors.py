"""Reads of the payments service."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from apps.payments.errors import PaymentNotFound
from apps.payments.models import Charge, PaymentIntent, Refund


def payment_list(
    *, customer_id: uuid.UUID, status: str | None = None, order_id: uuid.UUID | None = None
) -> QuerySet[PaymentIntent]:
    """The shopper's payments with their charge and refunds: two queries whatever the page size."""
    payments = (
        PaymentIntent.objects.filter(customer_id=customer_id)
        .select_related("charge")
        .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("created_at", "id")))
        .order_by("-created_at", "id")
    )
    if status:
        payments = payments.filter(status=status)
    if order_id:
        payments = payments.filter(order_id=order_id)
    return payments


def payment_get(*, customer_id: uuid.UUID, payment_id: uuid.UUID) -> PaymentIntent:
    """The shopper's own payment; another shopper's is a 404, exactly like a missing one."""
    payment = payment_list(customer_id=customer_id).filter(pk=payment_id).first()
    if payment is None:
        raise PaymentNotFound()
    return payment


def payment_money_ledger() -> dict[str, str]:
    """Per order, the money payments holds: charged minus refunded, as "<amount> <currency>"
    (one side of the money invariant; orders' ledger is the other)."""
    rows = Charge.objects.values_list("intent__order_id", "amount", "amount_refunded", "currency")
    return {str(order_id): f"{amount - refunded} {currency}" for order_id, amount, refunded, currency in rows}
