"""Refunds: staff ask payments to give back part or all of the captured money (by amount or by
line), and the compensation that gives back everything captured when an order is cancelled."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from apps.core.db import atomic
from apps.orders.contracts import events as contract
from apps.orders.errors import InvalidRefund, RefundNotAllowed, RefundTooLarge
from apps.orders.models import Order, OrderLine, Refund
from apps.orders.pricing.money import minor_unit, money_str, quantize
from apps.orders.pricing.totals import line_refund_amount
from apps.orders.selectors import order_refundable_amount
from apps.orders.services.transitions import SERVICE, event_publish, order_lock


def _refund_publish(refund: Refund, order: Order) -> None:
    event_publish(
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


def order_refund_all_captured(order: Order, *, reason: str, actor: str, restock: bool = False) -> Refund | None:
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


def _refund_plan(
    order: Order,
    order_lines: Mapping[str, OrderLine],
    *,
    amount: Decimal | None,
    lines: Mapping[str, int] | None,
    restock: bool,
) -> tuple[Decimal, list[dict[str, Any]]]:
    """What a refund of `order` (locked, or only read for a preview) would give back now, and
    which of its lines (`order_lines`, by SKU) it names; the refusals of order_refund_request,
    raised before anything changes."""
    if amount is not None and lines:
        raise InvalidRefund("Refund by amount or by lines, not both.")
    if order.amount_captured <= 0:
        raise RefundNotAllowed()
    available = order_refundable_amount(order=order)
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
                line_total=line.total,
                quantity=line.quantity,
                already_refunded=line.quantity_refunded,
                refunding=quantity,
                currency=order.currency,
            )
            refunded_lines.append({"sku": sku, "quantity": quantity})
        # Line refunds never add up past what was paid for the goods, but an earlier refund by
        # amount may leave one minor unit less than the lines' share: refund what is left.
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
    return amount, refunded_lines


def order_refund_preview(
    *, order: Order, amount: Decimal | None = None, lines: Mapping[str, int] | None = None, restock: bool = False
) -> Decimal:
    """The amount order_refund_request would refund now with these arguments, changing nothing
    (the admin's confirmation step shows it); refused exactly as the request would be."""
    order = Order.objects.get(pk=order.pk)
    order_lines = {line.sku: line for line in order.lines.all()}
    return _refund_plan(order, order_lines, amount=amount, lines=lines, restock=restock)[0]


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

    Give `amount`, or `lines` ({sku: quantity}, refunded at the pro-rata part of what was paid for
    the line: its discounted price with its tax), or neither for everything still refundable.
    `restock` asks catalog to put the refunded lines back in stock (by line or in full only: an
    amount names no goods). Refusals (more than captured minus refunded and in-flight refunds,
    more units than sold) change nothing."""
    with atomic(SERVICE):
        order = order_lock(order.pk)
        order_lines = {line.sku: line for line in order.lines.all()}
        amount, refunded_lines = _refund_plan(order, order_lines, amount=amount, lines=lines, restock=restock)
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
