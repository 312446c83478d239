"""Carts: a shopper's or an anonymous one (by token), and their lines."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


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
