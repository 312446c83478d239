"""The parcels an order ships in, and the goods returned from them."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from apps.core.currencies import currency_validator
from apps.orders.models.orders import MONEY, Order


class Shipment(models.Model):
    """A parcel: some units of some lines, with its carrier and tracking number. `amount` is its
    share of what the shopper pays (its lines' discounted prices with their tax, and on the first
    parcel the shipping with its tax): what capture at shipment takes for it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    number = models.PositiveIntegerField()  # 1, 2, ... per order
    # A carrier of services.shipments.CARRIERS (the admin's list, with tracking links) or another.
    carrier = models.CharField(max_length=100)
    tracking_number = models.CharField(max_length=100)
    tracking_url = models.URLField(max_length=300, blank=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    shipped_by = models.CharField(max_length=255)
    shipped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="orders_shipment_number_per_order"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="orders_shipment_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"parcel {self.number} of {self.order_id}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**MONEY)  # these units' share of the line's total
    # Units of this parcel line the shopper sent back (services/returns.py): never more than shipped.
    quantity_returned = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "sku"], name="orders_shipmentline_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_shipmentline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=models.F("quantity")),
                name="orders_shipmentline_returned_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def quantity_returnable(self) -> int:
        return self.quantity - self.quantity_returned


class ParcelReturn(models.Model):
    """Goods the shopper sent back from one parcel: which units of its lines, why, and whether each
    line goes back on the shelf (order.lines_returned; catalog restocks once per return). The id is
    chosen by whoever records it (the admin's form carries one), so a second submission of the same
    return finds it instead of recording the goods twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="returns")
    number = models.PositiveIntegerField()  # 1, 2, ... per order
    reason = models.CharField(max_length=200)
    # The refund of the returned units' share, when staff asked for it with the return.
    refund = models.OneToOneField(
        "Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="parcel_return"
    )
    recorded_by = models.CharField(max_length=255)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        verbose_name = "return"
        constraints = [
            models.UniqueConstraint(fields=["order", "number"], name="orders_parcelreturn_number_per_order"),
        ]

    def __str__(self) -> str:
        return f"return {self.number} of {self.order_id}"


class ParcelReturnLine(models.Model):
    parcel_return = models.ForeignKey(ParcelReturn, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    restock = models.BooleanField()  # back on the shelf, or kept out (damaged, thrown away)

    class Meta:
        ordering = ["id"]
        verbose_name = "returned line"
        constraints = [
            models.UniqueConstraint(fields=["parcel_return", "sku"], name="orders_parcelreturnline_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_parcelreturnline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
