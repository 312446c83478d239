"""Admin of the payments service: read-only. Payments, charges and refunds change only through
events and the provider (a refund is asked for in the orders admin); staff read them here, with
each payment's charge and refund history, the provider webhooks received and the drift the
reconciliation found (and the payments flagged for staff: filter on attention)."""

from __future__ import annotations

from django.contrib import admin

from apps.core.adminsite import ReadOnlyAdminMixin
from apps.payments.models import CaptureRequest, Charge, PaymentIntent, ProviderDrift, Refund, WebhookEvent


class ChargeInline(ReadOnlyAdminMixin, admin.StackedInline):
    model = Charge
    extra = 0
    fields = ["provider", "provider_charge_id", "amount", "currency", "amount_refunded", "status", "created_at"]
    readonly_fields = fields


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = [
        "refund_id",
        "source",
        "amount",
        "currency",
        "status",
        "reason",
        "provider_refund_id",
        "failure_code",
        "attempts",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["created_at"]


class CaptureRequestInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Captures at shipment and releases of the authorization, failures included."""

    model = CaptureRequest
    extra = 0
    fields = [
        "request_id",
        "kind",
        "amount",
        "currency",
        "status",
        "reason",
        "failure_code",
        "failure_message",
        "attempts",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["created_at"]


@admin.register(PaymentIntent)
class PaymentIntentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "order_number",
        "amount",
        "currency",
        "status",
        "capture_status",
        "attention",
        "failure_code",
        "provider",
        "created_at",
    ]
    list_filter = ["attention", "status", "capture_status", "provider", "currency"]
    search_fields = ["order_number", "=order_id", "=customer_id", "=provider_charge_id", "=provider_intent_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    fields = [
        "id",
        "order_id",
        "order_number",
        "customer_id",
        "amount",
        "currency",
        "status",
        "attempt",
        "pay_by",
        "provider",
        "provider_intent_id",
        "provider_charge_id",
        "capture_method",
        "capture_status",
        "card_brand",
        "card_last4",
        "failure_code",
        "failure_message",
        "attention",
        "attention_detail",
        "attempts",
        "last_error",
        "idempotency_key",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [ChargeInline, CaptureRequestInline, RefundInline]
    show_full_result_count = False


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "provider", "event_type", "outcome", "received_at"]
    list_filter = ["provider", "event_type", "outcome"]
    search_fields = ["=event_id"]
    ordering = ["-received_at"]
    fields = ["id", "provider", "event_id", "event_type", "outcome", "payload", "received_at"]
    readonly_fields = fields
    show_full_result_count = False


@admin.register(ProviderDrift)
class ProviderDriftAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the reconciliation found between the provider's books and payments'."""

    list_display = ["found_at", "provider", "kind", "object_id", "intent", "detail"]
    list_filter = ["kind", "provider"]
    search_fields = ["=object_id"]
    ordering = ["-found_at"]
    fields = ["id", "provider", "kind", "object_id", "intent", "detail", "found_at"]
    readonly_fields = fields
    show_full_result_count = False
