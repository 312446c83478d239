"""Admin of the users service: customers (no password editing; edits publish user.updated),
read-only refresh tokens. Staff accounts use Django's own auth.User admin; their replication to
the other services is in receivers.py."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from apps.core.adminsite import ReadOnlyAdminMixin, service_admin_url
from apps.users.models import Address, Customer, RefreshToken
from apps.users.services import customers


class AddressInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Address
    extra = 0
    fields = ["label", "full_name", "line1", "line2", "city", "region", "postal_code", "country", "phone", "is_default"]
    readonly_fields = fields
    show_change_link = False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "phone", "is_active", "date_joined", "last_login"]
    list_filter = ["is_active"]
    search_fields = ["email"]
    ordering = ["-date_joined"]
    # The password hash is never shown or edited here; shoppers reset their own password.
    fields = [
        "id",
        "email",
        "orders",
        "first_name",
        "last_name",
        "phone",
        "phone_verified_at",
        "is_active",
        "date_joined",
        "last_login",
    ]
    # Only a texted code verifies a phone; staff cannot mark one verified.
    readonly_fields = ["id", "email", "orders", "phone_verified_at", "date_joined", "last_login"]
    inlines = [AddressInline]
    actions = ["deactivate"]
    show_full_result_count = False

    @admin.display(description="orders")
    def orders(self, customer: Customer) -> str:
        # The orders admin (another service's, split) lists this customer's orders.
        url = service_admin_url("orders", f"orders/order/?customer_id={customer.pk}")
        return format_html('<a href="{}">Orders of this customer</a>', url)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Accounts are created by shoppers registering, which validates the password and
        # publishes user.registered; an admin-made account would have neither.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # No event announces a deletion, so other services' snapshots would dangle: deactivate.
        return False

    def save_model(self, request: HttpRequest, obj: Customer, form, change: bool) -> None:
        customers.customer_admin_save(customer=obj, changed_fields=list(form.changed_data))

    @admin.action(description="Deactivate selected customers (signs them out)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        count = customers.customers_deactivate(customer_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} customer(s) deactivated.", messages.SUCCESS)


@admin.register(RefreshToken)
class RefreshTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "customer", "family_id", "created_at", "expires_at", "revoked_at", "revoke_reason"]
    list_filter = ["revoke_reason"]
    search_fields = ["customer__email", "family_id"]
    list_select_related = ["customer"]
    # The hash is useless to a reader and only a lookup key: leave it out.
    fields = ["id", "customer", "family_id", "created_at", "expires_at", "revoked_at", "revoke_reason"]
    readonly_fields = fields
    show_full_result_count = False
