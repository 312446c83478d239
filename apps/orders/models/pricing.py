"""The pricing rules: shipping zones, methods and rates, tax rates, vouchers and automatic promotions."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.catalog.contracts.client import TAX_CLASSES
from apps.orders.models.orders import MONEY, Order


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
