"""Returns: goods the shopper sends back from a shipped parcel, recorded by staff per parcel line
(units up to what the line shipped less what came back before), with a reason and, per line,
whether the goods go back on the shelf. order.lines_returned tells catalog what to restock (once
per return). The refund of the returned units' share, when asked for with the return, is an
ordinary refund by line (services/refunds.py) in the same transaction, without restock lines: the
return restocks, never the refund as well."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal

from apps.core.db import atomic
from apps.core.exceptions import ValidationFailed
from apps.orders.contracts import events as contract
from apps.orders.errors import InvalidReturn
from apps.orders.models import Order, ParcelReturn, ParcelReturnLine, Shipment, ShipmentLine
from apps.orders.services.refunds import order_refund_preview, order_refund_request
from apps.orders.services.transitions import SERVICE, event_publish, order_lock

REASON_MAX_LENGTH = 200


@dataclass(frozen=True)
class _Returned:
    line: ShipmentLine
    quantity: int
    restock: bool


def _return_plan(
    order: Order, parcel: int, lines: Mapping[str, int], restock: Collection[str], reason: str
) -> tuple[Shipment, list[_Returned]]:
    """The parcel and what of it comes back; the refusals of return_record, raised before anything
    changes."""
    if not reason.strip() or len(reason.strip()) > REASON_MAX_LENGTH:
        raise ValidationFailed({"reason": [f"Give the reason for the return (1 to {REASON_MAX_LENGTH} characters)."]})
    shipment = order.shipments.filter(number=parcel).prefetch_related("lines").first()
    if shipment is None:
        raise InvalidReturn(f"Order {order.number} has no parcel {parcel}.", extra={"parcel": parcel})
    if not lines:
        raise InvalidReturn("Return at least one unit.")
    if not_returned := sorted(set(restock) - set(lines)):
        raise InvalidReturn(
            f"Only returned lines go back to stock; {', '.join(not_returned)} is not returned.",
            extra={"sku": not_returned[0]},
        )
    shipped = {line.sku: line for line in shipment.lines.all()}
    planned = []
    for sku, quantity in lines.items():
        line = shipped.get(sku)
        if line is None:
            raise InvalidReturn(f"Parcel {parcel} of order {order.number} has no line {sku!r}.", extra={"sku": sku})
        if quantity < 1:
            raise InvalidReturn(f"Return at least one unit of line {sku!r}, or leave it out.", extra={"sku": sku})
        if quantity > line.quantity_returnable:
            raise InvalidReturn(
                f"Line {sku!r} of parcel {parcel} shipped {line.quantity} and {line.quantity_returned} came back "
                f"before: at most {line.quantity_returnable} can be returned.",
                extra={"sku": sku, "returnable": line.quantity_returnable},
            )
        planned.append(_Returned(line=line, quantity=quantity, restock=sku in restock))
    return shipment, planned


def return_preview(
    *,
    order: Order,
    parcel: int,
    lines: Mapping[str, int],
    restock: Collection[str] = (),
    reason: str,
    refund: bool = False,
) -> Decimal | None:
    """The refund return_record would ask for now with these arguments (None: no refund asked),
    changing nothing (the admin's confirmation page shows it); refused exactly as the return
    would be."""
    order = Order.objects.get(pk=order.pk)
    _return_plan(order, parcel, lines, restock, reason)
    return order_refund_preview(order=order, lines=dict(lines)) if refund else None


def return_record(
    *,
    order: Order,
    parcel: int,
    lines: Mapping[str, int],
    restock: Collection[str] = (),
    reason: str,
    actor: str,
    refund: bool = False,
    return_id: uuid.UUID | None = None,
) -> tuple[ParcelReturn, bool]:
    """Record goods sent back from parcel number `parcel` of the order: `lines` ({sku: units}) and
    `restock`, the SKUs among them fit to sell again (catalog puts them back on the shelf). With
    `refund`, their share of what was paid is refunded too (a refund by line, without restock).

    Returns the return and whether it was recorded now: a `return_id` this order already recorded
    is the same return submitted again, and changes nothing. Refusals (a parcel or a line the
    order did not ship, zero units, more than shipped less returned before, a refused refund)
    change nothing either."""
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if return_id is not None and (earlier := ParcelReturn.objects.filter(pk=return_id).first()):
            if earlier.order_id != locked.pk:
                raise InvalidReturn("That return id belongs to another order's return.")
            return earlier, False
        shipment, planned = _return_plan(locked, parcel, lines, restock, reason)
        recorded = ParcelReturn.objects.create(
            id=return_id or uuid.uuid4(),
            order=locked,
            shipment=shipment,
            number=locked.returns.count() + 1,
            reason=reason.strip(),
            recorded_by=actor,
        )
        ParcelReturnLine.objects.bulk_create(
            ParcelReturnLine(parcel_return=recorded, sku=item.line.sku, quantity=item.quantity, restock=item.restock)
            for item in planned
        )
        for item in planned:
            item.line.quantity_returned += item.quantity
            item.line.save(update_fields=["quantity_returned"])
        if refund:
            recorded.refund = order_refund_request(
                order=locked,
                lines={item.line.sku: item.quantity for item in planned},
                restock=False,
                actor=actor,
                reason=f"return {recorded.number} (parcel {parcel}): {recorded.reason}",
            )
            recorded.save(update_fields=["refund"])
        event_publish(
            contract.ORDER_LINES_RETURNED,
            contract.OrderLinesReturned(
                order_id=str(locked.id),
                order_number=locked.number,
                return_id=str(recorded.id),
                parcel_number=shipment.number,
                lines=[contract.OrderLine(sku=item.line.sku, quantity=item.quantity) for item in planned],
                restock=[
                    contract.OrderLine(sku=item.line.sku, quantity=item.quantity) for item in planned if item.restock
                ],
            ),
        )
    return recorded, True
