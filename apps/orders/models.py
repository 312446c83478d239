"""Models of the orders service: carts, orders with their lines (snapshots of what was sold), the
status history, refunds, and the service's outbox and inbox. Shoppers and variants belong to other
services: they appear as UUIDs and snapshots, never as foreign keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes

MONEY = {"max_digits": 14, "decimal_places": 4}


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("orders")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


class Cart(models.Model):
    """A shopper's cart (customer_id set) or an anonymous one (addressed by a token, of which only
    the hash is stored). A signed-in shopper has at most one active cart."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MERGED = "merged", "Merged into a shopper's cart"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer_id = models.UUIDField(null=True, blank=True, db_index=True)
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer_id"],
                condition=Q(status="active", customer_id__isnull=False),
                name="orders_cart_one_active_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(customer_id__isnull=False) | Q(token_hash__isnull=False),
                name="orders_cart_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"cart {self.id}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "sku"], name="orders_cartline_unique_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orders_cartline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending (awaiting stock)"
    STOCK_RESERVED = "stock_reserved", "Stock reserved (awaiting payment)"
    CONFIRMED = "confirmed", "Confirmed (paid)"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class PaymentStatus(models.TextChoices):
    NOT_REQUESTED = "not_requested", "Not requested"
    REQUESTED = "requested", "Requested"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True)
    customer_id = models.UUIDField(db_index=True)
    email = models.EmailField()
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    # When the status last changed: the saga timeout measures how long a step has waited.
    status_changed_at = models.DateTimeField()

    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4)

    shipping_address = models.JSONField()  # a snapshot: later address-book edits do not change it
    # The payment provider's token for the shopper's method (never card data); sent once stock is held.
    payment_method_token = models.CharField(max_length=255)
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.NOT_REQUESTED)
    payment_id = models.CharField(max_length=64, blank=True)
    amount_captured = models.DecimalField(**MONEY, default=Decimal("0"))
    amount_refunded = models.DecimalField(**MONEY, default=Decimal("0"))

    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=50, blank=True)

    idempotency_key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_id", "idempotency_key"], name="orders_order_idempotency_key_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="orders_order_customer_recent"),
            models.Index(fields=["status", "status_changed_at"], name="orders_order_status_age"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def refundable_amount(self) -> Decimal:
        """Captured money not yet refunded (refunds still in flight are counted by the services)."""
        return self.amount_captured - self.amount_refunded


class OrderLine(models.Model):
    """What was sold, as it was at checkout: a snapshot, not a link to the catalog."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    product_name = models.CharField(max_length=255)
    variant_name = models.CharField(max_length=255, blank=True)
    unit_price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(**MONEY)
    quantity_refunded = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="orders_orderline_unique_sku"),
            models.CheckConstraint(
                condition=Q(quantity_refunded__lte=models.F("quantity")),
                name="orders_orderline_refund_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderStatusChange(models.Model):
    """The order's history: every transition, who made it and why. Written only by
    services.transitions.order_transition."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    reason = models.CharField(max_length=255)
    actor = models.CharField(max_length=255)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class Refund(models.Model):
    """Money given back: asked for by staff (or by a compensation), completed when payments
    reports it. Requested refunds count against what may still be refunded."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=255, blank=True)
    # [{"sku": ..., "quantity": ...}]: the lines refunded, if refunded by line.
    lines = models.JSONField(default=list, blank=True)
    restock = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.CharField(max_length=255)
    payment_refund_id = models.CharField(max_length=64, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="orders_refund_amount_positive")]

    def __str__(self) -> str:
        return f"refund {self.amount} {self.currency} of {self.order_id}"
