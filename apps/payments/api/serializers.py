"""Serializers of the payments API: input (query filters, webhook events) and output, separate."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from apps.core.api.serializers import InputSerializer, QueryInputSerializer
from apps.core.api.validators import refuse_card_number_token
from apps.payments.models import PaymentIntent, Refund

# `ordering` values of the payment list and the cursor ordering each one means (the unique id
# breaks ties).
PAYMENT_ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-amount": ("-amount", "-id"),
    "amount": ("amount", "id"),
}


class PaymentFilterInputSerializer(QueryInputSerializer):
    status = serializers.ChoiceField(choices=PaymentIntent.Status.choices, required=False)
    order_id = serializers.UUIDField(required=False)
    ordering = serializers.ChoiceField(
        choices=list(PAYMENT_ORDERINGS), default="-created_at", help_text="Newest first by default."
    )


class PaymentRefundOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = ["id", "refund_id", "amount", "currency", "status", "reason", "failure_code", "created_at"]
        read_only_fields = fields


class PaymentOutputSerializer(serializers.ModelSerializer):
    amount_refunded = serializers.SerializerMethodField()
    refunds = PaymentRefundOutputSerializer(many=True, read_only=True)

    class Meta:
        model = PaymentIntent
        fields = [
            "id",
            "order_id",
            "order_number",
            "amount",
            "currency",
            "status",
            "failure_code",
            "failure_message",
            "card_brand",
            "card_last4",
            "amount_refunded",
            "refunds",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_amount_refunded(self, payment: PaymentIntent) -> str:
        # Reverse one-to-one: the selector's select_related has fetched it (or its absence).
        charge = getattr(payment, "charge", None)
        return str(charge.amount_refunded if charge is not None else Decimal("0.00"))


class WebhookEventInputSerializer(InputSerializer):
    """A provider event: `{"id": "evt_...", "type": "charge.refunded", "data": {...}}`.

    `charge.refunded` data: charge_id, refund_id, amount, currency (and the refund's
    idempotency_key, when payments made it).
    `charge.failed` data: idempotency_key, failure_code, failure_message."""

    # The provider defines events and adds fields to them over time.
    unknown_fields_allowed = True

    id = serializers.CharField(max_length=255)
    type = serializers.CharField(max_length=100)
    created = serializers.IntegerField(required=False)
    data = serializers.DictField()


class WebhookReceivedOutputSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    outcome = serializers.CharField()


class PaymentRetryInputSerializer(InputSerializer):
    payment_method_token = serializers.CharField(
        max_length=255,
        validators=[refuse_card_number_token],
        help_text="A new payment method from the provider's client library (the sandbox: `tok_visa`, "
        "`tok_3ds_required`, `tok_3ds_fail`, `tok_decline`, ...).",
    )
    retry_key = serializers.CharField(
        max_length=255,
        required=False,
        help_text="The order's `payment.retry_key` (from the order's detail): how a guest, or anyone "
        "without the owner's access token, pays again. When sent it decides, whoever is signed in.",
    )


class PaymentReturnInputSerializer(QueryInputSerializer):
    """What the provider adds to the return URL (Stripe's names); a client that completed the
    action with Stripe.js sends the same two values."""

    payment_intent = serializers.CharField(max_length=255)
    payment_intent_client_secret = serializers.CharField(max_length=255)
    redirect_status = serializers.CharField(max_length=50, required=False)


class SandboxAuthenticateInputSerializer(QueryInputSerializer):
    payment_intent = serializers.CharField(max_length=64)
    client_secret = serializers.CharField(max_length=100)


class NextActionOutputSerializer(serializers.Serializer):
    type = serializers.CharField()
    redirect_url = serializers.CharField(allow_blank=True)


class PaymentAttemptOutputSerializer(serializers.Serializer):
    """Where the order's payment stands after the shopper's return or a new attempt. `status`:
    pending, requires_action (complete `next_action` with `client_secret`), succeeded or failed."""

    payment_id = serializers.UUIDField(source="intent.id")
    order_id = serializers.UUIDField(source="intent.order_id")
    status = serializers.CharField(source="intent.status")
    attempt = serializers.IntegerField(source="intent.attempt")
    failure_code = serializers.CharField(source="intent.failure_code")
    pay_by = serializers.DateTimeField(source="intent.pay_by", allow_null=True)
    client_secret = serializers.CharField(allow_blank=True)
    next_action = NextActionOutputSerializer(allow_null=True)
