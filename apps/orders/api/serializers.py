"""Input and output serializers of the orders API (separate: input validates, output shapes)."""

from __future__ import annotations

import copy
import threading
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import ReturnDict

from apps.core.api.serializers import InputSerializer, QueryInputSerializer
from apps.core.api.validators import refuse_card_number_text, refuse_card_number_token
from apps.orders.models import Order, OrderLine, OrderStatus, OrderStatusChange, Refund, Shipment, ShipmentLine
from apps.orders.pricing.money import money_str
from apps.orders.selectors import ORDER_ORDERINGS

# --- Input ---------------------------------------------------------------------------------------


class CartLineAddInput(InputSerializer):
    sku = serializers.CharField(max_length=64)
    # Range checked by the service (ORDERS_MAX_LINE_QUANTITY), so the error has one shape.
    quantity = serializers.IntegerField(default=1)


class CartLineQuantityInput(InputSerializer):
    quantity = serializers.IntegerField()


class ShippingAddressInput(InputSerializer):
    # The address travels in events and reaches logs and other services: no card number in it.
    full_name = serializers.CharField(max_length=200, validators=[refuse_card_number_text])
    line1 = serializers.CharField(max_length=200, validators=[refuse_card_number_text])
    line2 = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", validators=[refuse_card_number_text]
    )
    city = serializers.CharField(max_length=100, validators=[refuse_card_number_text])
    region = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", validators=[refuse_card_number_text]
    )
    postal_code = serializers.CharField(max_length=20, validators=[refuse_card_number_text])
    country = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2 code.")
    # Not checked: an international phone number is as long as some card numbers.
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    # No default: an address without it stays as it was, and so does its idempotency fingerprint.
    vat_number = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        help_text="A business buyer's EU VAT number (checked in form only). From another EU country than "
        "the shop's, with delivery there, the order is reverse charged: no VAT.",
    )

    def validate_country(self, value: str) -> str:
        return value.upper()


class CheckoutInput(InputSerializer):
    shipping_address = ShippingAddressInput()
    # Refused before anything is stored or published: a card number typed here would otherwise
    # rest on the order and travel in payment.requested.
    payment_method_token = serializers.CharField(
        max_length=255,
        validators=[refuse_card_number_token],
        help_text="The payment provider's token for the card. In development (the sandbox provider): "
        "`tok_success`, `tok_visa` or `tok_mastercard` charge; `tok_decline` and `tok_insufficient_funds` "
        "decline; `tok_transient` fails a few times, then charges; `tok_3ds_required` asks for 3-D Secure "
        "(which then succeeds), `tok_3ds_fail` too (which then fails); any other token is declined "
        "(`invalid_payment_method`). After a decline the order waits (`payment_action_required`) for "
        "another method until its payment deadline.",
    )
    shipping_method = serializers.SlugField(
        max_length=50, required=False, help_text="A code from the shipping quote; the cheapest when absent."
    )


class GuestCheckoutInput(CheckoutInput):
    email = serializers.EmailField(
        max_length=254, help_text="Where the order's emails go, with the link to the order's page."
    )

    def validate_email(self, value: str) -> str:
        # The spelling users stores an account's email in: a claim after sign-up compares equal.
        return value.strip().lower()


class DestinationInput(QueryInputSerializer):
    """Where the cart would go (query parameters); the shop's default country when absent."""

    country = serializers.CharField(max_length=2, required=False)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    shipping_method = serializers.SlugField(max_length=50, required=False)
    vat_number = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")


class VoucherInput(InputSerializer):
    code = serializers.CharField(max_length=50)


class OrderListFilterInput(QueryInputSerializer):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    ordering = serializers.ChoiceField(choices=ORDER_ORDERINGS, required=False)


# --- Output --------------------------------------------------------------------------------------

_rendering = threading.local()


def rendered(serializer: type[serializers.Serializer], instance: Any, *, context: dict | None = None) -> ReturnDict:
    """`serializer(instance, context=context).data`, by an instance of `serializer` kept per thread
    and reused: a serializer's fields (and its nested serializers' fields, built on their first
    item) are deep copies of the class's, made for every instance, and making them cost more than
    the rendering itself (most of the cart's and checkout's answers). Per thread because a field
    keeps state while it renders (MoneyField's currency); `context` is set on each use, as
    SerializerMethodFields and nested serializers read it from the root."""
    kept = _rendering.__dict__.setdefault("serializers", {})
    template = kept.get(serializer)
    if template is None:
        template = kept[serializer] = serializer()
    template._context = context or {}
    try:
        return ReturnDict(template.to_representation(instance), serializer=template)
    finally:
        template._context = {}  # nothing of this request kept past it (an order's access token)


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
    """The pricing function's answer. Without prices_include_tax, total = subtotal - discount +
    shipping + tax; with it, total = subtotal - discount + shipping and tax is the part of it
    that is tax."""

    subtotal = MoneyField()
    discount = MoneyField()
    shipping = MoneyField()
    tax = MoneyField()
    total = MoneyField()
    prices_include_tax = serializers.BooleanField()
    reverse_charge = serializers.BooleanField()
    shipping_method = serializers.CharField(source="shipping_method.code", allow_null=True)
    tax_lines = serializers.SerializerMethodField()
    discounts = serializers.SerializerMethodField()

    def get_tax_lines(self, pricing) -> list[dict]:
        return [
            {
                "rate": str(line.rate),
                "base": money_str(line.base, pricing.currency),
                "tax": money_str(line.tax, pricing.currency),
            }
            for line in pricing.tax_lines
        ]

    def get_discounts(self, pricing) -> list[dict]:
        return [
            {"source": d.source, "name": d.name, "amount": money_str(d.amount, pricing.currency)}
            for d in pricing.discounts
        ]


class ShippingOptionOutput(serializers.Serializer):
    code = serializers.CharField(source="shipping_method.code")
    name = serializers.CharField(source="shipping_method.name")
    min_days = serializers.IntegerField(source="shipping_method.min_days")
    max_days = serializers.IntegerField(source="shipping_method.max_days")
    currency = serializers.CharField()
    price = MoneyField(source="shipping")
    total = MoneyField(help_text="The cart's total with this method.")


class ShippingQuoteOutput(serializers.Serializer):
    methods = ShippingOptionOutput(many=True, source="shipping_options")


class CartLineOutput(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    product_name = serializers.CharField()
    variant_name = serializers.CharField()
    unit_price = MoneyField(allow_null=True)
    currency = serializers.CharField(allow_null=True)
    line_total = MoneyField(allow_null=True)
    discount = MoneyField(allow_null=True)
    tax = MoneyField(allow_null=True)
    available = serializers.IntegerField()
    purchasable = serializers.BooleanField()


class CartOutput(serializers.Serializer):
    id = serializers.UUIDField(source="cart_id", allow_null=True)
    lines = CartLineOutput(many=True)
    currency = serializers.CharField(allow_null=True)
    totals = TotalsOutput(source="pricing", allow_null=True)
    voucher_code = serializers.CharField(help_text="Empty when none is applied.")
    pricing_error = serializers.CharField(
        allow_null=True, help_text="Why the cart is priced without its voucher, or not at all (a problem code)."
    )
    purchasable = serializers.BooleanField()
    max_line_quantity = serializers.SerializerMethodField()

    def get_max_line_quantity(self, obj) -> int:
        return settings.ORDERS_MAX_LINE_QUANTITY


class CartCreatedOutput(CartOutput):
    token = serializers.CharField(help_text="Send it as X-Cart-Token on later cart requests.")


class BuiltOnceModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that builds its fields from the model once per class, not for every
    instance: each instance gets a deep copy of them, as DRF gives each its declared fields.
    Building them was four fifths of rendering an order (the checkout's answer: about 2 ms of
    CPU for its seven serializers); the fields depend on the class and its Meta alone."""

    def get_fields(self) -> dict[str, serializers.Field]:
        built = type(self).__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            type(self)._built_fields = built  # never bound: only its copies are
        return copy.deepcopy(built)


class OrderLineOutput(BuiltOnceModelSerializer):
    unit_price = MoneyField()
    line_total = MoneyField()
    discount = MoneyField()
    tax = MoneyField()
    total = MoneyField()

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
            "discount",
            "tax_rate",
            "tax",
            "total",
            "quantity_shipped",
            "quantity_refunded",
        ]


class StatusChangeOutput(BuiltOnceModelSerializer):
    # Blank for the first entry (the order's creation); the same enum as the order's status.
    from_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True)
    to_status = serializers.ChoiceField(choices=OrderStatus.choices)

    class Meta:
        model = OrderStatusChange
        fields = ["from_status", "to_status", "reason", "at"]


class RefundOutput(BuiltOnceModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Refund
        fields = ["id", "amount", "currency", "status", "created_at", "completed_at"]


class ShipmentLineOutput(BuiltOnceModelSerializer):
    class Meta:
        model = ShipmentLine
        fields = ["sku", "quantity", "quantity_returned"]


class ShipmentOutput(BuiltOnceModelSerializer):
    """A parcel, with its carrier's tracking link when the shop knows the carrier, and how many
    units of each line came back (returns staff recorded)."""

    lines = ShipmentLineOutput(many=True)

    class Meta:
        model = Shipment
        fields = ["number", "carrier", "tracking_number", "tracking_url", "shipped_at", "lines"]


class OrderSummaryOutput(BuiltOnceModelSerializer):
    subtotal = MoneyField()
    discount = MoneyField()
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
            "discount",
            "shipping",
            "tax",
            "total",
            "prices_include_tax",
            "shipping_method",
            "voucher_code",
            "vat_number",
            "reverse_charge",
            "lines",
            "created_at",
        ]


class PaymentNextActionOutput(serializers.Serializer):
    type = serializers.CharField(
        help_text="`redirect_to_url` (send the browser to `redirect_url`) or `use_stripe_sdk`."
    )
    redirect_url = serializers.CharField(allow_blank=True)


class OrderPaymentOutput(serializers.Serializer):
    """The order's payment as the shopper's client needs it. While the order is
    payment_action_required: with `next_action`, complete 3-D Secure (Stripe.js with
    `client_secret`, or the browser to `next_action.redirect_url`; the provider brings the shopper
    back to `return_url`); with `status` failed, or instead of an unfinished authentication, pay
    again with another method before `deadline`: POST `retry_url` with `payment_method_token` and
    `retry_key`."""

    status = serializers.CharField(source="payment_status")
    attempt = serializers.SerializerMethodField()
    client_secret = serializers.SerializerMethodField()
    next_action = serializers.SerializerMethodField()
    return_url = serializers.SerializerMethodField()
    failure_code = serializers.SerializerMethodField()
    reason_code = serializers.SerializerMethodField()
    deadline = serializers.DateTimeField(source="payment_deadline", allow_null=True)
    retry_url = serializers.SerializerMethodField()
    retry_key = serializers.SerializerMethodField(
        help_text="Proves to payments that the caller may pay this order again: send it with the new "
        "payment method to `retry_url`. A guest's only way to pay again; shown only while the order "
        "waits for payment, to its owner or the holder of its access token."
    )

    def get_attempt(self, order: Order) -> int:
        return int(order.payment_action.get("attempt") or (1 if order.payment_deadline else 0))

    def get_client_secret(self, order: Order) -> str:
        return str(order.payment_action.get("client_secret") or "")

    @extend_schema_field(PaymentNextActionOutput(allow_null=True))
    def get_next_action(self, order: Order) -> dict[str, str] | None:
        return order.payment_action.get("next_action") or None

    def get_return_url(self, order: Order) -> str:
        return str(order.payment_action.get("return_url") or "")

    def get_failure_code(self, order: Order) -> str:
        return str(order.payment_action.get("failure_code") or "")

    def get_reason_code(self, order: Order) -> str:
        return str(order.payment_action.get("reason_code") or "")

    def get_retry_url(self, order: Order) -> str:
        """Where to pay again (payments' API), while the order waits for the shopper."""
        if order.status != OrderStatus.PAYMENT_ACTION_REQUIRED:
            return ""
        return f"/api/v1/payments/orders/{order.id}/attempts/"

    def get_retry_key(self, order: Order) -> str:
        if order.status != OrderStatus.PAYMENT_ACTION_REQUIRED:
            return ""
        return str(order.payment_action.get("retry_key") or "")


class OrderDetailOutput(OrderSummaryOutput):
    amount_captured = MoneyField()
    amount_refunded = MoneyField()
    status_history = StatusChangeOutput(many=True, source="status_changes")
    refunds = RefundOutput(many=True)
    shipments = ShipmentOutput(many=True, help_text="The parcels, in the order they left.")
    payment = OrderPaymentOutput(source="*")

    class Meta(OrderSummaryOutput.Meta):
        fields = [
            *OrderSummaryOutput.Meta.fields,
            "amount_captured",
            "amount_refunded",
            "shipping_address",
            "tax_breakdown",
            "carrier",
            "tracking_number",
            "shipped_at",
            "shipments",
            "cancel_reason",
            "status_history",
            "refunds",
            "payment",
            "updated_at",
        ]


class GuestOrderOutput(OrderDetailOutput):
    """A guest's order as checkout answers it: with the email it goes to and its access token."""

    access_token = serializers.SerializerMethodField(
        help_text="Send it as the X-Order-Token header to read, cancel or pay this order; valid for "
        "ORDERS_ACCESS_TOKEN_DAYS days. Keep it: it is the guest's only key to the order (the order's "
        "emails carry a link with it)."
    )

    class Meta(OrderDetailOutput.Meta):
        fields = [*OrderDetailOutput.Meta.fields, "email", "access_token"]

    def get_access_token(self, order: Order) -> str:
        return self.context["access_token"]
