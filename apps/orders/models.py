"""Models of the orders service: carts, orders with their lines (snapshots of what was sold), the
parcels they ship in and the goods returned from them, the status history, refunds, the pricing
rules (shipping zones, methods and rates, tax rates, vouchers and automatic promotions), and the
service's outbox and inbox. Shoppers and variants belong to other services: they appear as UUIDs
and snapshots, never as foreign keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.catalog.contracts.client import TAX_CLASSES
from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.currencies import currency_validator, money_format
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
    # The one voucher code applied to the cart (upper-case), re-checked at every pricing.
    voucher_code = models.CharField(max_length=50, blank=True, db_default="")
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


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass


# --- Pricing rules -----------------------------------------------------------------------------------


class ShippingZone(models.Model):
    """Where the shop ships: a set of countries, or regions of them. The first active zone (by
    position) that covers an address serves it."""

    name = models.CharField(max_length=100)
    countries = models.JSONField(default=list, help_text='ISO 3166-1 alpha-2 codes, e.g. ["DE", "AT"].')
    regions = models.JSONField(
        default=list, blank=True, help_text='ISO 3166-2 codes, e.g. ["ES-CN"]; empty: the whole of each country.'
    )
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class ShippingMethod(models.Model):
    """A way to ship to a zone, priced by weight band or by order value."""

    class Basis(models.TextChoices):
        WEIGHT = "weight", "By weight (grams)"
        VALUE = "value", "By order value"

    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="methods")
    code = models.SlugField(max_length=50, help_text="What the shopper sends at checkout, e.g. standard.")
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="EUR")
    rate_basis = models.CharField(max_length=8, choices=Basis.choices, default=Basis.WEIGHT)
    free_from = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Free when the goods (after discounts) cost at least this."
    )
    min_days = models.PositiveSmallIntegerField(default=2)
    max_days = models.PositiveSmallIntegerField(default=5)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["zone", "code"], name="orders_shippingmethod_code_per_zone")]

    def __str__(self) -> str:
        return f"{self.name} ({self.zone})"


class ShippingRate(models.Model):
    """One band of a method: the price for weights (or order values) up to `up_to`; the band
    with no upper bound takes everything above. Past the last band the method is not offered."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="rates")
    up_to = models.DecimalField(**MONEY, null=True, blank=True, help_text="Grams or order value; empty: no limit.")
    price = models.DecimalField(**MONEY)

    class Meta:
        ordering = [models.F("up_to").asc(nulls_last=True), "id"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="orders_shippingrate_price_non_negative")]

    def __str__(self) -> str:
        return f"up to {self.up_to or 'any'}: {self.price}"


class TaxRate(models.Model):
    """The destination's rate for a tax class, from `valid_from` (until `valid_until`, if set). A
    region's rate overrides its country's. No rate for a class: no tax on it."""

    country = models.CharField(max_length=2)
    region = models.CharField(max_length=10, blank=True, help_text="ISO 3166-2 code; empty: the whole country.")
    tax_class = models.CharField(max_length=16, choices=[(c, c.capitalize()) for c in TAX_CLASSES])
    rate = models.DecimalField(max_digits=6, decimal_places=4, help_text="0.19 for 19 %.")
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["country", "region", "tax_class", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lt=1), name="orders_taxrate_rate_range"),
        ]
        indexes = [models.Index(fields=["country", "tax_class"], name="orders_taxrate_lookup")]

    def __str__(self) -> str:
        return self.name or f"{self.country}{'-' + self.region if self.region else ''} {self.tax_class} {self.rate}"


class DiscountKind(models.TextChoices):
    PERCENTAGE = "percentage", "Percentage off"
    FIXED = "fixed", "Fixed amount off"
    FREE_SHIPPING = "free_shipping", "Free shipping"


class Voucher(models.Model):
    """A code the shopper enters. Uses are counted under the voucher's row lock at checkout, so
    two shoppers cannot both take the last one; each use is audited in VoucherUse."""

    code = models.CharField(max_length=50, unique=True, help_text="Stored in capitals; shoppers may type any case.")
    kind = models.CharField(max_length=16, choices=DiscountKind.choices)
    value = models.DecimalField(**MONEY, default=Decimal("0"), help_text="10 for 10 %, or the amount off.")
    currency = models.CharField(max_length=3, default="EUR", help_text="Of a fixed amount and the minimum spend.")
    min_spend = models.DecimalField(**MONEY, null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    per_customer_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    used_count = models.PositiveIntegerField(default=0, editable=False)
    skus = models.JSONField(default=list, blank=True, help_text="Only these SKUs (empty: any).")
    category_slugs = models.JSONField(default=list, blank=True, help_text="Only these categories (empty: any).")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(used_count__lte=models.F("usage_limit")),
                name="orders_voucher_within_limit",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="orders_voucher_value_non_negative"),
            models.CheckConstraint(
                condition=~Q(kind="percentage") | Q(value__lte=100), name="orders_voucher_percentage_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)


class VoucherUse(models.Model):
    """The audit of a voucher's uses: which order took it, for whom, for how much. A use is given
    back (released) when its order is cancelled."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="uses")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="voucher_uses")
    customer_id = models.UUIDField(null=True, blank=True, db_index=True)  # None: a guest order's use
    discount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    used_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-used_at"]
        constraints = [models.UniqueConstraint(fields=["voucher", "order"], name="orders_voucheruse_once_per_order")]

    def __str__(self) -> str:
        return f"{self.voucher} on {self.order}"


class Promotion(models.Model):
    """An automatic percentage off, no code needed (e.g. 10 % off a category this weekend)."""

    name = models.CharField(max_length=100)
    percentage = models.DecimalField(max_digits=5, decimal_places=2, help_text="10 for 10 %.")
    skus = models.JSONField(default=list, blank=True, help_text="Only these SKUs (empty: any).")
    category_slugs = models.JSONField(default=list, blank=True, help_text="Only these categories (empty: any).")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(percentage__gt=0, percentage__lte=100), name="orders_promotion_percentage_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name
