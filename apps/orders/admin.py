"""Staff admin for orders: find orders by status, date, number or email; ship, cancel and refund
them, and record what comes back. Orders are never edited directly: every change goes through the services, so the state
machine, the history and the events stay right."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from apps.core.adminsite import ActionsOnlyAdminMixin, service_admin_url
from apps.core.currencies import minor_unit, money_format
from apps.core.exceptions import ApplicationError
from apps.orders.admin_backoffice import OrderBackOfficeMixin
from apps.orders.admin_display import (
    ReadOnlyInline,
    address_display,
    money_display,
    money_fields,
    refund_lines_display,
)
from apps.orders.admin_returns import OrderReturnsMixin, ReturnInline
from apps.orders.admin_shipments import OrderShipmentsMixin, ShipmentInline
from apps.orders.models import (
    Cart,
    CartLine,
    Order,
    OrderLine,
    OrderNote,
    OrderStatusChange,
    Promotion,
    Refund,
    ShippingMethod,
    ShippingRate,
    ShippingZone,
    TaxRate,
    Voucher,
    VoucherUse,
)
from apps.orders.selectors import order_refundable_amount
from apps.orders.services.cancellation import order_cancel
from apps.orders.services.fulfilment import order_mark_delivered, order_ship
from apps.orders.services.refunds import order_refund_preview, order_refund_request
from apps.orders.services.shipments import SHIPPABLE_STATUSES
from apps.orders.services.transitions import staff_actor


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = money_fields(
        OrderLine,
        [
            "sku",
            "product_name",
            "variant_name",
            "unit_price",
            "quantity",
            "line_total",
            "quantity_shipped",
            "quantity_refunded",
            "quantity_cancelled",
        ],
    )
    readonly_fields = fields


class OrderStatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    verbose_name_plural = "Status history"
    fields = ["at", "from_status", "to_status", "reason", "actor"]
    readonly_fields = fields


class OrderNoteInline(ReadOnlyInline):
    model = OrderNote
    verbose_name_plural = "Notes"
    fields = ["created_at", "author", "body"]
    readonly_fields = fields


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = [
        "id",
        money_display("amount", "amount"),
        "status",
        "reason",
        refund_lines_display,
        "restock",
        "requested_by",
        "created_at",
        "completed_at",
    ]
    readonly_fields = fields


class ShipOrderForm(forms.Form):
    carrier = forms.CharField(max_length=100)
    tracking_number = forms.CharField(max_length=100)


class RefundForm(forms.Form):
    """By amount, by line quantities, or everything still refundable (only when ticked: an empty
    form refunds nothing)."""

    refund_everything = forms.BooleanField(required=False, label="Refund everything still refundable")
    amount = forms.DecimalField(required=False, min_value=Decimal("0.01"), decimal_places=4, max_digits=14)
    restock = forms.BooleanField(required=False, help_text="Put refunded lines back in stock (not for an amount).")
    reason = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        for line in order.lines.all():
            remaining = line.quantity - line.quantity_refunded
            self.fields[f"line_{line.sku}"] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=remaining,
                label=f"{line.sku} — {line.product_name} ({remaining} of {line.quantity} refundable)",
            )

    def clean(self):
        cleaned = super().clean()
        lines = {
            name.removeprefix("line_"): value for name, value in cleaned.items() if name.startswith("line_") and value
        }
        amount = cleaned.get("amount")
        if lines and amount:
            raise forms.ValidationError("Refund by amount or by lines, not both.")
        if (lines or amount) and cleaned.get("refund_everything"):
            raise forms.ValidationError("Refund everything, or an amount or lines, not both.")
        if not (lines or amount or cleaned.get("refund_everything")) and not self.errors:
            raise forms.ValidationError(
                "Tick “Refund everything still refundable” to refund the whole order, or give an amount or quantities."
            )
        if amount and amount != amount.quantize(minor_unit(self.order.currency)):
            self.add_error(
                "amount", f"{self.order.currency} has no smaller unit than {minor_unit(self.order.currency)}."
            )
        cleaned["lines"] = lines
        return cleaned


def _order_fields() -> list[Any]:
    # Every field, read-only, money in minor units; the customer and the address shown for people.
    shown: list[Any] = []
    for field in Order._meta.fields:
        if field.name in {"payment_method_token", "customer_id"}:
            continue
        if field.name == "shipping_address":
            shown.append("shipping_address_display")
        elif field.name == "payment_action":
            shown.append("payment_action_display")
        elif field.name == "email":
            shown += ["customer", "email"]
        else:
            shown += money_fields(Order, [field.name])
    return shown


@admin.register(Order)
class OrderAdmin(ActionsOnlyAdminMixin, OrderShipmentsMixin, OrderReturnsMixin, OrderBackOfficeMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "email",
        "status",
        "payment_status",
        money_display("total", "total"),
        "payment_issue",
        "created_at",
    ]
    list_filter = ["status", "payment_status", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["=number", "email"]
    ordering = ["-created_at"]
    list_per_page = 50
    inlines = [OrderLineInline, ShipmentInline, ReturnInline, OrderStatusChangeInline, RefundInline, OrderNoteInline]
    change_form_template = "admin/orders/order/change_form.html"
    change_list_template = "admin/orders/order/change_list.html"
    actions = ["mark_shipped", "close_unshipped", "mark_delivered", "cancel_orders", "refund_order"]
    fields = _order_fields()
    readonly_fields = fields

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # A customer's orders, linked from the customer in users' admin (?customer_id=<uuid>).
        return lookup == "customer_id" or super().lookup_allowed(lookup, value, request)

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("orders.refund_order")

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("orders.cancel_order")

    @admin.display(description="customer")
    def customer(self, order: Order) -> str:
        if order.customer_id is None:
            return "guest (no account yet)"
        url = service_admin_url("users", f"users/customer/{order.customer_id}/change/")
        return format_html('<a href="{}">{}</a>', url, order.customer_id)

    @admin.display(description="shipping address")
    def shipping_address_display(self, order: Order) -> str:
        return address_display(order.shipping_address)

    @admin.display(description="payment action")
    def payment_action_display(self, order: Order) -> str:
        """What the shopper was last asked to do about the payment (never the client secret or
        the retry key)."""
        action = order.payment_action
        if not action.get("attempt"):
            return "—"
        if action.get("next_action"):
            return f"attempt {action.get('attempt')}: 3-D Secure ({action['next_action'].get('type')})"
        return f"attempt {action.get('attempt')}: failed, {action.get('reason_code')} ({action.get('failure_code')})"

    def get_urls(self):
        return [
            path(
                "<uuid:order_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="orders_order_refund",
            ),
            *super().get_urls(),
        ]

    # --- Actions ---------------------------------------------------------------------------------

    @admin.action(description="Ship what is left of the selected orders, one parcel each", permissions=["ship"])
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        orders = list(queryset)
        if "apply" in request.POST:
            forms_by_order = {order: ShipOrderForm(request.POST, prefix=str(order.pk)) for order in orders}
            if all(form.is_valid() for form in forms_by_order.values()):
                for order, form in forms_by_order.items():
                    self._run(request, order, "shipped", order_ship, **form.cleaned_data)
                return None
        else:
            forms_by_order = {order: ShipOrderForm(prefix=str(order.pk)) for order in orders}
        return TemplateResponse(
            request,
            "admin/orders/order/ship.html",
            {
                **self.admin_site.each_context(request),
                "title": "Mark orders shipped",
                "opts": self.model._meta,
                "forms_by_order": forms_by_order.items(),
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Mark selected orders delivered", permissions=["change"])
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            self._run(request, order, "marked delivered", order_mark_delivered)

    @admin.action(description="Cancel selected orders (refunds any captured payment)", permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            self._run(request, order, "cancelled", order_cancel, reason="staff_cancelled")

    @admin.action(description="Refund the selected order…", permissions=["refund"])
    def refund_order(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one order to refund.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:orders_order_refund", args=[queryset.get().pk]))

    def _run(self, request: HttpRequest, order: Order, done: str, service, **kwargs) -> None:
        try:
            service(order=order, actor=staff_actor(request.user), **kwargs)
        except ApplicationError as error:
            self.message_user(request, f"{order.number}: {error.detail}", messages.ERROR)
        else:
            self.message_user(request, f"{order.number}: {done}.", messages.SUCCESS)

    def render_change_form(self, request: HttpRequest, context: dict, *args: Any, **kwargs: Any) -> HttpResponse:
        context["may_refund"] = self.has_refund_permission(request)
        context["may_note"] = request.user.has_perm("orders.add_ordernote")
        original = context.get("original")
        context["may_ship"] = (
            original is not None and original.status in SHIPPABLE_STATUSES and self.has_ship_permission(request)
        )
        return super().render_change_form(request, context, *args, **kwargs)

    # --- Refund form -----------------------------------------------------------------------------

    def refund_view(self, request: HttpRequest, order_id) -> HttpResponse:
        """The refund form, then a confirmation page naming the amount (nothing is refunded until
        staff confirm it, and a confirmation for an amount that has changed since is asked again)."""
        order = get_object_or_404(Order, pk=order_id)
        if not self.has_refund_permission(request):
            raise PermissionDenied
        form = RefundForm(request.POST if request.method == "POST" else None, order=order)
        if request.method != "POST" or not form.is_valid():
            return self._refund_page(request, order, form)
        asked = {
            "amount": form.cleaned_data["amount"],
            "lines": form.cleaned_data["lines"] or None,
            "restock": form.cleaned_data["restock"],
        }
        try:
            amount = order_refund_preview(order=order, **asked)
        except ApplicationError as error:
            form.add_error(None, str(error.detail))
            return self._refund_page(request, order, form)
        shown = money_format(amount, order.currency)
        if request.POST.get("confirm") != shown:
            changed = "confirm" in request.POST
            return self._refund_page(request, order, form, confirm=shown, changed=changed)
        try:
            refund = order_refund_request(
                order=order, reason=form.cleaned_data["reason"], actor=staff_actor(request.user), **asked
            )
        except ApplicationError as error:
            form.add_error(None, str(error.detail))
            return self._refund_page(request, order, form)
        self.message_user(
            request,
            f"{order.number}: refund of {money_format(refund.amount, refund.currency)} requested.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def _refund_page(
        self, request: HttpRequest, order: Order, form: RefundForm, *, confirm: str = "", changed: bool = False
    ) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/orders/order/refund_confirm.html" if confirm else "admin/orders/order/refund.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Confirm the refund of order {order.number}" if confirm else f"Refund order {order.number}",
                "opts": self.model._meta,
                "original": order,
                "form": form,
                "confirm": confirm,
                "changed": changed,
                "refund_lines": sorted(form.cleaned_data["lines"].items()) if confirm else [],
                "total": money_format(order.total, order.currency),
                "captured": money_format(order.amount_captured, order.currency),
                "refunded": money_format(order.amount_refunded, order.currency),
                "refundable": money_format(order_refundable_amount(order=order), order.currency),
            },
        )


class CartLineInline(ReadOnlyInline):
    model = CartLine
    fields = ["sku", "quantity", "added_at"]
    readonly_fields = fields


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    """Read-only: for answering "what was in my cart" questions."""

    list_display = ["id", "customer_id", "status", "updated_at"]
    list_filter = ["status"]
    search_fields = ["=id", "=customer_id"]
    readonly_fields = ["id", "customer_id", "status", "created_at", "updated_at"]
    exclude = ["token_hash"]
    inlines = [CartLineInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- Pricing rules -------------------------------------------------------------------------------------


class ShippingRateInline(admin.TabularInline):
    model = ShippingRate
    extra = 1


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    list_display = ["name", "countries", "regions", "position", "active"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "zone", "rate_basis", "currency", "free_from", "min_days", "max_days", "active"]
    list_filter = ["active", "rate_basis", "zone"]
    list_select_related = ["zone"]
    inlines = [ShippingRateInline]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "region", "tax_class", "rate", "valid_from", "valid_until", "name"]
    list_filter = ["tax_class", "country"]
    search_fields = ["country", "region", "name"]


class VoucherUseInline(ReadOnlyInline):
    model = VoucherUse
    fields = ["order", "customer_id", money_display("discount", "discount"), "used_at", "released_at"]
    readonly_fields = fields


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    """Uses are counted by checkout (never edited here) and audited in the inline below."""

    list_display = ["code", "kind", "value", "currency", "min_spend", "used_count", "usage_limit", "ends_at", "active"]
    list_filter = ["active", "kind"]
    search_fields = ["code"]
    readonly_fields = ["used_count", "created_at"]
    inlines = [VoucherUseInline]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "percentage", "starts_at", "ends_at", "active"]
    list_filter = ["active"]
    search_fields = ["name"]
