"""Input and output serializers of the orders API (separate: input validates, output shapes)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from rest_framework import serializers

from apps.orders.models import Order, OrderLine, OrderStatus, OrderStatusChange, Refund
from apps.orders.pricing.money import money_str
from apps.orders.selectors import ORDER_ORDERINGS

# --- Input ---------------------------------------------------------------------------------------


class CartLineAddInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    # Range checked by the service (ORDERS_MAX_LINE_QUANTITY), so the error has one shape.
    quantity = serializers.IntegerField(default=1)


class CartLineQuantityInput(serializers.Serializer):
    quantity = serializers.IntegerField()


class ShippingAddressInput(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2 code.")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")

    def validate_country(self, value: str) -> str:
        return value.upper()


class CheckoutInput(serializers.Serializer):
    shipping_address = ShippingAddressInput()
    payment_method_token = serializers.CharField(max_length=255)


class OrderListFilterInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    ordering = serializers.ChoiceField(choices=ORDER_ORDERINGS, required=False)


# --- Output --------------------------------------------------------------------------------------


class MoneyField(serializers.DecimalField):
    """Money as a decimal string on its currency's minor unit ("34.90"); never a float. The
    currency is the serialized object's `currency` (read just before each value, so it holds
    under many=True, where one field instance serves every item in turn)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=None, coerce_to_string=True, **kwargs)

    def get_attribute(self, instance):
        self._currency = getattr(instance, "currency", None)
        return super().get_attribute(instance)

    def to_representation(self, value):
        if value is None:
            return None
        currency = getattr(self, "_currency", None)
        return money_str(Decimal(value), currency) if currency else str(value)


class TotalsOutput(serializers.Serializer):
    subtotal = MoneyField()
    shipping = MoneyField()
    tax = MoneyField()
    total = MoneyField()


class CartLineOutput(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    product_name = serializers.CharField()
    variant_name = serializers.CharField()
    unit_price = MoneyField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    line_total = MoneyField(allow_null=True)
    available = serializers.IntegerField()
    purchasable = serializers.BooleanField()


class CartOutput(serializers.Serializer):
    id = serializers.UUIDField(source="cart_id", allow_null=True)
    lines = CartLineOutput(many=True)
    currency = serializers.CharField(allow_null=True)
    totals = TotalsOutput(allow_null=True)
    purchasable = serializers.BooleanField()
    max_line_quantity = serializers.SerializerMethodField()

    def get_max_line_quantity(self, obj) -> int:
        return settings.ORDERS_MAX_LINE_QUANTITY


class CartCreatedOutput(CartOutput):
    token = serializers.CharField(help_text="Send it as X-Cart-Token on later cart requests.")


class OrderLineOutput(serializers.ModelSerializer):
    unit_price = MoneyField()
    line_total = MoneyField()

    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "product_name",
            "variant_name",
            "unit_price",
            "currency",
            "quantity",
            "line_total",
            "quantity_refunded",
        ]


class StatusChangeOutput(serializers.ModelSerializer):
    # Blank for the first entry (the order's creation); the same enum as the order's status.
    from_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True)
    to_status = serializers.ChoiceField(choices=OrderStatus.choices)

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "reason", "at"]


class RefundOutput(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Refund
        fields = ["id", "amount", "currency", "status", "created_at", "completed_at"]


class OrderSummaryOutput(serializers.ModelSerializer):
    subtotal = MoneyField()
    shipping = MoneyField()
    tax = MoneyField()
    total = MoneyField()
    lines = OrderLineOutput(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "payment_status",
            "currency",
            "subtotal",
            "shipping",
            "tax",
            "total",
            "lines",
            "created_at",
        ]


class OrderDetailOutput(OrderSummaryOutput):
    amount_captured = MoneyField()
    amount_refunded = MoneyField()
    status_history = StatusChangeOutput(many=True, source="status_changes")
    refunds = RefundOutput(many=True)

    class Meta(OrderSummaryOutput.Meta):
        fields = [
            *OrderSummaryOutput.Meta.fields,
            "amount_captured",
            "amount_refunded",
            "shipping_address",
            "carrier",
            "tracking_number",
            "shipped_at",
            "cancel_reason",
            "status_history",
            "refunds",
            "updated_at",
        ]
