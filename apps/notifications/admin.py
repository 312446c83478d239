"""Admin of the notifications service: the delivery log, read-only (what was sent stays as it
was), filterable and searchable, each delivery with its text body rendered from the stored
context (secrets redacted), a "resend" action for failed deliveries that goes through the same
send path; and read-only views of the contact copies and preferences."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.adminsite import ReadOnlyAdminMixin
from apps.notifications import messages as notification_messages
from apps.notifications import services
from apps.notifications.models import Delivery, Preference, Recipient


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Rows here are written by events and sends, never by hand."""

    show_full_result_count = False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "template", "channel", "recipient", "status", "attempts", "sent_at", "event_type"]
    list_filter = ["channel", "status", "template", "category", "skip_reason", "created_at"]
    date_hierarchy = "created_at"
    # An address by its start; ids (event, customer, provider message) only whole.
    search_fields = ["^recipient", "=event_id", "=customer_id", "=provider_message_id"]
    ordering = ["-created_at"]
    fields = [
        "id",
        "template",
        "category",
        "channel",
        "recipient",
        "customer_id",
        "status",
        "skip_reason",
        "attempts",
        "provider_message_id",
        "last_error",
        "subject",
        "text_body",
        "event_type",
        "event_id",
        "context",
        "created_at",
        "updated_at",
        "sent_at",
    ]
    readonly_fields = fields
    actions = ["resend"]

    @admin.display(description="text body")
    def text_body(self, delivery: Delivery) -> str:
        # Rendered from the context as stored, so staff (and the e2e journey) read what the
        # shopper was sent, in either shape, without access to the mail provider.
        rendered = notification_messages.render_for_staff(delivery.template, delivery.channel, delivery.context)
        return rendered.text if rendered is not None else ""

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.resend_delivery")

    @admin.action(description="Resend selected failed deliveries", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        count = services.deliveries_resend(delivery_ids=selected)
        if count:
            self.message_user(request, f"{count} delivery(ies) queued for a new attempt.", messages.SUCCESS)
        if count < len(selected):
            self.message_user(
                request,
                f"{len(selected) - count} selected delivery(ies) were not failed and were left alone.",
                messages.WARNING,
            )


@admin.register(Recipient)
class RecipientAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "email", "first_name", "phone", "phone_verified", "as_of"]
    search_fields = ["=customer_id", "email"]
    fields = ["customer_id", "email", "first_name", "phone", "phone_verified", "as_of", "updated_at"]
    readonly_fields = fields


@admin.register(Preference)
class PreferenceAdmin(ReadOnlyAdmin):
    list_display = ["customer_id", "marketing_opt_out", "sms_opt_in", "updated_at"]
    list_filter = ["marketing_opt_out", "sms_opt_in"]
    search_fields = ["=customer_id"]
    fields = ["customer_id", "marketing_opt_out", "sms_opt_in", "created_at", "updated_at"]
    readonly_fields = fields
