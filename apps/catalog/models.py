"""Models of the catalog service: the category tree, products and their variants (SKUs), stock per
SKU with its audit trail, product images, and per-order stock reservations. The rules that must
hold whatever code path writes (no negative price or stock) are database CheckConstraints."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from apps.catalog.contracts.client import TAX_CLASSES
from apps.catalog.images import image_check
from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.currencies import currency_validator
from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes

non_negative_money = MinValueValidator(Decimal("0"), "Must not be negative.")
# An option's name (colour, size, cup_size): shoppers filter by it (?option=colour:red), so it is
# a plain word, never something with "__" that reads like a lookup.
OPTION_NAME = re.compile(r"(?=.{1,40}\Z)[a-z](?:_?[a-z0-9])*")  # use fullmatch
OPTION_VALUE_MAX_LENGTH = 100
ATTRIBUTE_NAME_MAX_LENGTH = 100
_SCALARS = (str, int, float, bool)


def validate_option_values(value: Any) -> None:
    """A variant's options: an object of option name -> non-empty text, e.g. {"colour": "red"}."""
    if not isinstance(value, dict):
        raise ValidationError('Give an object of option names and values, e.g. {"colour": "red", "size": "M"}.')
    for name, option in value.items():
        if not isinstance(name, str) or not OPTION_NAME.fullmatch(name):
            raise ValidationError(
                f"Option name {name!r}: lower-case letters and digits, single _ between them, at most 40."
            )
        if not isinstance(option, str) or not option.strip() or len(option) > OPTION_VALUE_MAX_LENGTH:
            raise ValidationError(f"Option {name!r} needs a text value of 1 to {OPTION_VALUE_MAX_LENGTH} characters.")


COMPARE_AT_MESSAGE = "The compare-at price (the price before a sale) must not be below the price."
ONE_CURRENCY_MESSAGE = "All variants of a product are priced in one currency; this one has {currencies}."
NEEDS_ACTIVE_VARIANT_MESSAGE = "A published product needs at least one active variant; save it as a draft instead."


def variant_was_ordered(*, variant_id: int) -> bool:
    """Whether any order ever reserved this variant (its reservation lines outlive the order)."""
    return ReservationLine.objects.filter(variant_id=variant_id).exists()


def product_variant_errors(*, published: bool, variants: list[tuple[str, bool]]) -> list[str]:
    """The rules over a product's variants, given as (currency, active): one currency, and a
    published product has an active variant. The admin's formset and the import both ask this."""
    errors = []
    currencies = sorted({currency for currency, _ in variants if currency})
    if len(currencies) > 1:
        errors.append(ONE_CURRENCY_MESSAGE.format(currencies=", ".join(currencies)))
    if published and not any(active for _, active in variants):
        errors.append(NEEDS_ACTIVE_VARIANT_MESSAGE)
    return errors


def validate_attributes(value: Any) -> None:
    """A product's facts: an object of name -> text, number, true/false or a list of those."""
    if not isinstance(value, dict):
        raise ValidationError('Give an object of facts, e.g. {"material": "cotton"}.')
    for name, fact in value.items():
        if not name.strip() or len(name) > ATTRIBUTE_NAME_MAX_LENGTH:
            raise ValidationError(f"Attribute names are 1 to {ATTRIBUTE_NAME_MAX_LENGTH} characters.")
        facts = fact if isinstance(fact, list) else [fact]
        if not all(isinstance(item, _SCALARS) for item in facts):
            raise ValidationError(f"Attribute {name!r} must be text, a number, true/false or a list of those.")


def _clean_json(instance: models.Model, name: str, validate: Any) -> None:
    # In clean(), not as field validators: Django skips those for "empty" values (None, [], ""),
    # which are wrong shapes too.
    try:
        validate(getattr(instance, name))
    except ValidationError as error:
        raise ValidationError({name: error.messages}) from None


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("catalog")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    position = models.PositiveIntegerField(default=0, help_text="Order among its siblings (lowest first).")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"
        constraints = [models.CheckConstraint(condition=~Q(parent=F("id")), name="catalog_category_not_own_parent")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # A loop (a category under its own descendant) detaches the whole branch from the root,
        # so the shop's tree never shows it. Walk up from the new parent: one query per level.
        ancestor_id = self.parent_id
        seen: set[int] = set()
        while ancestor_id is not None and ancestor_id not in seen:
            if self.pk is not None and ancestor_id == self.pk:
                raise ValidationError(
                    {"parent": "A category cannot be placed under itself or one of its own subcategories."}
                )
            seen.add(ancestor_id)
            ancestor_id = Category.objects.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()


class Product(models.Model):
    # A UUID, because other services keep it (product.updated) and must never guess neighbours.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    description = models.TextField(blank=True)
    brand = models.CharField(max_length=100, blank=True, db_index=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    attributes = models.JSONField(default=dict, blank=True, help_text="Free-form facts, e.g. material.")
    # Which of the destination's tax rates applies (orders holds the rates): standard, reduced,
    # zero-rated or exempt.
    tax_class = models.CharField(
        max_length=16, choices=[(c, c.capitalize()) for c in TAX_CLASSES], default="standard", db_default="standard"
    )
    # A new product is a draft (not shown, not sellable) until staff publish it.
    active = models.BooleanField(
        "published",
        default=False,
        db_index=True,
        help_text="Drafts are hidden from the shop. Publishing needs at least one active variant.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Maintained by a PostgreSQL trigger (migration 0003) from name, brand and description, so bulk
    # inserts and updates keep it right too; stays empty on SQLite, where search falls back to
    # icontains. Its GIN index is created by the same migration, on PostgreSQL only.
    search_vector = SearchVectorField(null=True, editable=False)
    # The listing summary: copied from the product's variants, stock and images by
    # services.products.product_listing_refresh() on every change to those, so the shopper's list
    # is a single-table query (no per-request subqueries; an index serves ordering by price).
    price_from = models.DecimalField(max_digits=12, decimal_places=2, null=True, editable=False)
    currency = models.CharField(max_length=3, blank=True, editable=False)
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, editable=False)
    in_stock = models.BooleanField(default=False, editable=False)
    primary_image = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["name", "id"], name="catalog_product_name_id"),
            models.Index(fields=["price_from", "id"], name="catalog_product_price_id"),
            models.Index(fields=["created_at", "id"], name="catalog_product_created_id"),
            # A leaf category's first page in each ordering: its first rows straight from the index
            # (selectors.product_list_start), not the whole list's index filtered by category.
            models.Index(fields=["category", "name", "id"], name="catalog_product_cat_name_id"),
            models.Index(fields=["category", "price_from", "id"], name="catalog_product_cat_price_id"),
            models.Index(fields=["category", "created_at", "id"], name="catalog_product_cat_created_id"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _clean_json(self, "attributes", validate_attributes)


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=120, help_text="What tells it from its siblings, e.g. 'Red / M'.")
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[non_negative_money])
    currency = models.CharField(max_length=3, default="EUR", validators=[currency_validator])
    compare_at_price = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, validators=[non_negative_money]
    )
    option_values = models.JSONField(default=dict, blank=True, help_text='e.g. {"colour": "red", "size": "M"}')
    weight_grams = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_variant_price_non_negative"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gte=0),
                name="catalog_variant_compare_at_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["product", "price"], name="catalog_variant_product_price")]

    def __str__(self) -> str:
        return self.sku

    def clean(self) -> None:
        _clean_json(self, "option_values", validate_option_values)
        if self.compare_at_price is not None and self.price is not None and self.compare_at_price < self.price:
            raise ValidationError({"compare_at_price": COMPARE_AT_MESSAGE})
        if self.pk is not None:
            stored = Variant.objects.filter(pk=self.pk).values_list("sku", flat=True).first()
            # Orders, refunds and restocks name the SKU: renaming one an order took would orphan them.
            if stored is not None and stored != self.sku and variant_was_ordered(variant_id=self.pk):
                raise ValidationError({"sku": f"SKU {stored} was ordered, so it cannot be renamed."})


class Stock(models.Model):
    """Units of one SKU: on hand, and of those reserved by orders not yet confirmed."""

    variant = models.OneToOneField(Variant, primary_key=True, on_delete=models.CASCADE, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "stock"
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="catalog_stock_on_hand_non_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="catalog_stock_reserved_non_negative"),
            # available = on_hand - reserved is never negative.
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="catalog_stock_available_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.variant.sku

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockAdjustment(models.Model):
    """The audit trail of stock changes, manual, imported or from orders (refunds, returns,
    cancellations): who, when, how much and why. A restock names the order and the refund (or the
    return, or the cancellation) in refund_id; the unique (refund, SKU) key makes a redelivered
    event restock once, even when two deliveries race."""

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="stock_adjustments")
    sku = models.CharField("SKU", max_length=64)
    delta = models.IntegerField()
    on_hand_after = models.IntegerField()
    reason = models.CharField(max_length=255)
    # The staff username, not a relation: staff accounts live in another table (or database).
    actor = models.CharField(max_length=150)
    # The orders service's order id and the id of its refund, return or cancellation that brought
    # the goods back (UUIDs, not relations: they live in its database); empty for manual and
    # imported adjustments.
    order_id = models.UUIDField(null=True, blank=True, editable=False, db_index=True)
    refund_id = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["refund_id", "sku"],
                condition=Q(refund_id__isnull=False),
                name="catalog_stock_adjustment_refund_sku_unique",
            ),
            models.CheckConstraint(
                condition=Q(refund_id__isnull=True) | (Q(order_id__isnull=False) & Q(delta__gt=0)),
                name="catalog_stock_adjustment_refund_restocks",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.delta:+d} ({self.reason})"


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    # The default storage: S3 in the split shape, the local disk all-in-one.
    # Checked by content, not by name (apps/catalog/images.py); uploads are re-encoded first.
    image = models.FileField(upload_to="products/%Y/%m/", validators=[image_check])
    # Made from the image at upload (apps/catalog/images.py); empty for images from before that.
    thumbnail = models.FileField(upload_to="products/thumbs/%Y/%m/", blank=True, editable=False, db_default="")
    alt_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.image.name


class Reservation(models.Model):
    """The stock held for one order. One row per order id makes every saga step idempotent."""

    class Status(models.TextChoices):
        RESERVED = "reserved"
        REJECTED = "rejected"
        RELEASED = "released"
        COMMITTED = "committed"
        # The order was cancelled before it was ever reserved: a late order.created reserves nothing.
        CANCELLED = "cancelled"

    order_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+")
    sku = models.CharField("SKU", max_length=64)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["sku"]
        constraints = [models.UniqueConstraint(fields=["reservation", "sku"], name="catalog_reservation_line_unique")]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class BulkJob(models.Model):
    """A large bulk change (publishing thousands of products) run in the background, chunk by
    chunk, with its progress for the admin to show."""

    class Action(models.TextChoices):
        PUBLISH = "publish"
        UNPUBLISH = "unpublish"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    action = models.CharField(max_length=20, choices=Action.choices)
    product_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # Who asked: the username to show, the id for the admin history entries the job writes.
    requested_by = models.CharField(max_length=150)
    requested_by_id = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.total} products ({self.status})"


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass
