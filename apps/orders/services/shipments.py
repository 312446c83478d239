"""Fulfilment in parcels: staff ship an order in one or more parcels (lines and quantities, carrier,
tracking number), each announced by order.shipped (the shopper's email per parcel), and close
what will never ship. With capture at shipment the order is captured once its fulfilment is
settled (services/authorizations.py says why once, and how much).

A parcel's share of the money: its units' pro-rata part of each line's total (discounted, with the
line's tax; counted cumulatively, so all parcels of a line add up to exactly its total), plus, on
the first parcel, the shipping with its tax (the order's total less its lines' totals)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote

from django.utils import timezone

from apps.core.db import atomic
from apps.orders.contracts import events as contract
from apps.orders.errors import IllegalTransition, InvalidShipment, PaymentNotHeld
from apps.orders.models import Order, OrderLine, PaymentStatus, Shipment, ShipmentLine
from apps.orders.pricing.totals import line_refund_amount
from apps.orders.services.authorizations import authorization_capture, lines_cancel
from apps.orders.services.refunds import order_refund_request
from apps.orders.services.transitions import (
    SERVICE,
    S,
    contract_customer_id,
    contract_sealed_access_token,
    event_publish,
    order_lock,
    order_transition,
)

# The carriers the admin offers, with each one's public tracking page ({} is the number).
CARRIERS: dict[str, str] = {
    "DHL": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={}",
    "DPD": "https://track.dpd.co.uk/parcels/{}",
    "GLS": "https://gls-group.com/track/{}",
    "UPS": "https://www.ups.com/track?tracknum={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
}
SHIPPABLE_STATUSES = (S.CONFIRMED, S.PARTIALLY_SHIPPED, S.PARTIALLY_REFUNDED)
# A payment the goods may leave against: taken, or held on the card (captured when they ship).
PAID_STATUSES = (
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.AUTHORIZED,
)


def tracking_url(carrier: str, tracking_number: str) -> str:
    template = CARRIERS.get(carrier)
    return template.format(quote(tracking_number, safe="")) if template else ""


def _units(order: Order, lines: Mapping[str, int] | None) -> dict[str, tuple[OrderLine, int]]:
    """The parcel's lines, checked: {sku: (line, units)}; none given: everything left to ship."""
    order_lines = {line.sku: line for line in order.lines.all()}
    if not lines:
        return {sku: (line, line.quantity_to_ship) for sku, line in order_lines.items() if line.quantity_to_ship}
    units = {}
    for sku, quantity in lines.items():
        line = order_lines.get(sku)
        if line is None:
            raise InvalidShipment(f"The order has no line {sku!r}.", extra={"sku": sku})
        if not 1 <= quantity <= line.quantity_to_ship:
            raise InvalidShipment(
                f"Line {sku!r} has {line.quantity_to_ship} units left to ship.",
                extra={"sku": sku, "left_to_ship": line.quantity_to_ship},
            )
        units[sku] = (line, quantity)
    return units


def _refused(order: Order, detail: str) -> IllegalTransition:
    return IllegalTransition(detail, extra={"from_status": order.status, "to_status": S.SHIPPED})


def shipment_create(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    actor: str,
    lines: Mapping[str, int] | None = None,
) -> Shipment:
    """Ship a parcel of `lines` ({sku: units}; none: everything left). The order becomes
    partially_shipped, or shipped when nothing is left; the shopper is told (order.shipped); the
    last parcel of an authorized order asks for its capture. Refusals change nothing."""
    carrier, tracking_number = carrier.strip(), tracking_number.strip()
    if not carrier or not tracking_number:
        raise InvalidShipment("A parcel needs a carrier and a tracking number.")
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if locked.status not in SHIPPABLE_STATUSES:
            raise _refused(locked, f"Order {locked.number} cannot go from {locked.status} to shipped.")
        if locked.payment_status not in PAID_STATUSES:
            raise PaymentNotHeld(f"Order {locked.number}'s payment is {locked.payment_status}; it cannot ship.")
        units = _units(locked, lines)
        if not units:
            raise _refused(locked, f"Order {locked.number} has already shipped.")
        number = locked.shipments.count() + 1
        shares = {
            sku: line_refund_amount(
                line_total=line.total,
                quantity=line.quantity,
                already_refunded=line.quantity_shipped,
                refunding=quantity,
                currency=locked.currency,
            )
            for sku, (line, quantity) in units.items()
        }
        amount = sum(shares.values(), Decimal("0"))
        if number == 1:
            amount += max(Decimal("0"), locked.total - sum((line.total for line in locked.lines.all()), Decimal("0")))
        shipment = Shipment.objects.create(
            order=locked,
            number=number,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url(carrier, tracking_number),
            amount=amount,
            currency=locked.currency,
            shipped_by=actor,
        )
        for sku, (line, quantity) in units.items():
            ShipmentLine.objects.create(shipment=shipment, sku=sku, quantity=quantity, amount=shares[sku])
            line.quantity_shipped += quantity
            line.save(update_fields=["quantity_shipped"])
        complete = not any(line.quantity_to_ship for line in locked.lines.all())
        order_transition(
            order=locked,
            to=S.SHIPPED if complete else S.PARTIALLY_SHIPPED,
            reason=f"parcel {number} shipped with {carrier}",
            actor=actor,
        )
        locked.carrier, locked.tracking_number = carrier, tracking_number
        locked.shipped_at = locked.shipped_at or timezone.now()
        locked.save(update_fields=["carrier", "tracking_number", "shipped_at", "updated_at"])
        event_publish(
            contract.ORDER_SHIPPED,
            contract.OrderShipped(
                order_id=str(locked.id),
                order_number=locked.number,
                customer_id=contract_customer_id(locked),
                email=locked.email,
                carrier=carrier,
                tracking_number=tracking_number,
                shipment_id=str(shipment.id),
                parcel_number=number,
                tracking_url=shipment.tracking_url,
                lines=[contract.OrderLine(sku=sku, quantity=quantity) for sku, (_, quantity) in units.items()],
                complete=complete,
                sealed_access_token=contract_sealed_access_token(locked),
            ),
        )
        if complete:
            authorization_capture(locked, reason=f"every parcel shipped ({number})")
    return shipment


def order_close_unshipped(*, order: Order, actor: str, reason: str = "") -> Order:
    """What has not shipped of a partially shipped order never will: captured money for it is
    refunded (with a restock), or, with capture at shipment, the order is captured for what
    shipped, the rest released and its goods put back in stock. The order becomes shipped."""
    with atomic(SERVICE):
        locked = order_lock(order.pk)
        if locked.status != S.PARTIALLY_SHIPPED:
            raise IllegalTransition(
                f"Only a partially shipped order can be closed; {locked.number} is {locked.status}.",
                extra={"from_status": locked.status, "to_status": S.SHIPPED},
            )
        left = {line.sku: line.quantity_to_ship for line in locked.lines.all() if line.quantity_to_ship}
        why = reason or "the rest will not ship"
        if locked.payment_status == PaymentStatus.AUTHORIZED:
            lines_cancel(locked, left)
            authorization_capture(locked, reason=f"closed: {why}")
        elif left:
            order_refund_request(order=locked, lines=left, restock=True, actor=actor, reason=f"not shipped: {why}")
        return order_transition(order=locked, to=S.SHIPPED, reason=f"closed: {why}", actor=actor)
