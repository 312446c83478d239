"""Orders with their lines (snapshots of what was sold), the status history, staff notes and refunds."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.core.currencies import currency_validator, money_format

MONEY = {"max_digits": 14, "decimal_places": 4}


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending (awaiting stock)"
    STOCK_RESERVED = "stock_reserved", "Stock reserved (awaiting payment)"
    # The provider needs the shopper (3-D Secure), or the payment failed and the shopper may pay
    # again with another method: stock stays held until payment_deadline.
    PAYMENT_ACTION_REQUIRED = "payment_action_required", "Awaiting the shopper's payment action"
    CONFIRMED = "confirmed", "Confirmed (paid)"
    PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class PaymentStatus(models.TextChoices):
    NOT_REQUESTED = "not_requested", "Not requested"
    REQUESTED = "requested", "Requested"
    REQUIRES_ACTION = "requires_action", "Requires the shopper's action"
    # Capture at shipment (PAYMENTS_CAPTURE_AT=shipment): held on the card, taken when it ships.
    AUTHORIZED = "authorized", "Authorized (captured at shipment)"
    CAPTURE_REQUESTED = "capture_requested", "Capture requested"
    CAPTURE_FAILED = "capture_failed", "Capture failed (staff to act)"
    RELEASED = "released", "Authorization released"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True)
    # None for a guest order (checked out from an anonymous cart with an email address) until the
    # shopper proves that email on an account, which then claims it (services/guest.py).
    customer_id = models.UUIDField(null=True, blank=True, db_index=True)
    email = models.EmailField()
    # The anonymous cart a guest order came from: the scope of its Idempotency-Key.
    guest_cart_id = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=30, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    # When the status last changed: the saga timeout measures how long a step has waited.
    status_changed_at = models.DateTimeField()

    currency = models.CharField(max_length=3, validators=[currency_validator])
    subtotal = models.DecimalField(**MONEY)
    shipping = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4)

    shipping_address = models.JSONField()  # a snapshot: later address-book edits do not change it
    # The payment provider's token for the shopper's method (never card data: checkout refuses
    # one); sent once stock is held, and blanked once the payment is decided or the order cancelled.
    payment_method_token = models.CharField(max_length=255, blank=True)
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.NOT_REQUESTED)
    payment_id = models.CharField(max_length=64, blank=True)
    amount_captured = models.DecimalField(**MONEY, default=Decimal("0"))
    amount_refunded = models.DecimalField(**MONEY, default=Decimal("0"))
    # Capture at shipment: what the card holds for the order, and why staff must look at its
    # payment (a capture that failed, an authorization that expired); blank when nothing is wrong.
    amount_authorized = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))
    payment_issue = models.CharField(max_length=255, blank=True, default="", db_default="")
    # The shopper-present payment: until when the order can be paid (set when payment is asked
    # for; the order is cancelled then), and what payments last said about the current attempt
    # ({"attempt", "client_secret", "next_action": {"type", "redirect_url"}, "return_url",
    # "failure_code", "reason_code", "message"}) with the order's "retry_key" (made when payment
    # is asked for; payments holds its SHA-256). The client secret lets only the shopper's client
    # complete that one payment, the retry key pay again; both are blanked once the payment is
    # decided or the order cancelled.
    payment_deadline = models.DateTimeField(null=True, blank=True)
    payment_action = models.JSONField(default=dict, blank=True, db_default={})

    # The latest parcel's (services/shipments.py); shipped_at is when the first one left.
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=50, blank=True)

    # Pricing (apps.orders.pricing): with prices_include_tax, subtotal, discount and shipping are
    # gross and tax is the part of the total that is tax; without, total = subtotal - discount +
    # shipping + tax. tax_breakdown: [{"rate", "base", "tax"}] per rate, shipping included.
    discount = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))
    shipping_tax = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))
    prices_include_tax = models.BooleanField(default=False, db_default=False)
    tax_breakdown = models.JSONField(default=list, blank=True, db_default=[])
    shipping_method = models.CharField(max_length=50, blank=True, db_default="")
    shipping_method_name = models.CharField(max_length=100, blank=True, db_default="")
    voucher_code = models.CharField(max_length=50, blank=True, db_default="")
    # A business buyer's VAT number (normalised, valid in form) and whether the order is reverse
    # charged: no VAT charged, the buyer accounts for it (apps.orders.pricing.vat).
    vat_number = models.CharField(max_length=20, blank=True, db_default="")
    reverse_charge = models.BooleanField(default=False, db_default=False)

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
            models.UniqueConstraint(
                fields=["guest_cart_id", "idempotency_key"],
                condition=Q(guest_cart_id__isnull=False),
                name="orders_order_guest_idempotency_key_unique",
            ),
        ]
        permissions = [
            ("refund_order", "Can refund orders"),
            ("cancel_order", "Can cancel orders"),
            ("ship_order", "Can ship orders (parcels) and close what never ships"),
            ("record_return", "Can record goods returned from shipped parcels"),
        ]
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="orders_order_customer_recent"),
            models.Index(fields=["status", "status_changed_at"], name="orders_order_status_age"),
            # The claim of a verified email's guest orders reads only the unclaimed ones.
            models.Index(fields=["email"], condition=Q(customer_id__isnull=True), name="orders_order_unclaimed_email"),
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
    currency = models.CharField(max_length=3, validators=[currency_validator])
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(**MONEY)  # unit_price x quantity, before discounts
    quantity_refunded = models.PositiveIntegerField(default=0)
    # Units in parcels, and units that will never ship and were not refunded (nothing was captured
    # for them: capture at shipment).
    quantity_shipped = models.PositiveIntegerField(default=0, db_default=0)
    quantity_cancelled = models.PositiveIntegerField(default=0, db_default=0)
    # The line's share of every discount, its tax rate and tax, and what the shopper paid for it
    # (discounted, tax included): refunds give back a pro-rata part of `total`.
    discount = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0"), db_default=Decimal("0"))
    tax = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))
    total = models.DecimalField(**MONEY, default=Decimal("0"), db_default=Decimal("0"))

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sku"], name="orders_orderline_unique_sku"),
            models.CheckConstraint(
                condition=Q(quantity_refunded__lte=models.F("quantity")),
                name="orders_orderline_refund_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=models.F("quantity")),
                name="orders_orderline_shipped_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def quantity_to_ship(self) -> int:
        """Units neither shipped, refunded before shipping, nor cancelled."""
        return max(0, self.quantity - self.quantity_shipped - self.quantity_refunded - self.quantity_cancelled)


class OrderStatusChange(models.Model):
    """The order's history: every transition, who made it and why. Written only by
    services.transitions.order_transition."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=30, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=30, choices=OrderStatus.choices)
    reason = models.CharField(max_length=255)
    actor = models.CharField(max_length=255)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status}"


class OrderNote(models.Model):
    """A note staff keep on an order (a call with the shopper, a courier's answer): who and when.
    Notes are only added, never edited, so the order's story stays as it was told."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField(max_length=2000)
    # The staff username, not a relation: staff accounts live in another table (or database).
    author = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


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
    currency = models.CharField(max_length=3, validators=[currency_validator])
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
        return f"refund of {money_format(self.amount, self.currency)}"
