"""The orders admin's fulfilment in parcels: the order's parcels (with tracking links, what came
back, and where to record a return), the form that ships one parcel of chosen lines and
quantities, and closing what never ships. A mixin of
OrderAdmin (apps/orders/admin.py); every change goes through services/shipments.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.core.currencies import money_format
from apps.core.exceptions import ApplicationError
from apps.orders.admin_display import ReadOnlyInline, money_display
from apps.orders.models import Order, Shipment
from apps.orders.services.shipments import CARRIERS, order_close_unshipped, shipment_create
from apps.orders.services.transitions import staff_actor

OTHER_CARRIER = "other"


class ShipmentInline(ReadOnlyInline):
    model = Shipment
    verbose_name_plural = "Parcels"
    fields = ["number", "shipped_at", "carrier", "tracking", "contents", money_display("amount", "share"), "shipped_by"]
    readonly_fields = fields

    def get_fields(self, request: HttpRequest, obj: Order | None = None) -> list[Any]:
        # Where a return is recorded, for staff who may record one.
        return [*self.fields, "return_link"] if request.user.has_perm("orders.record_return") else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> list[Any]:
        return self.get_fields(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shipment]:
        return super().get_queryset(request).prefetch_related("lines")

    @admin.display(description="tracking")
    def tracking(self, shipment: Shipment) -> str:
        if shipment.tracking_url:
            return format_html('<a href="{}" rel="noopener">{}</a>', shipment.tracking_url, shipment.tracking_number)
        return shipment.tracking_number

    @admin.display(description="contents")
    def contents(self, shipment: Shipment) -> str:
        return format_html_join(
            ", ",
            "{} x {}{}",
            (
                (line.quantity, line.sku, f" ({line.quantity_returned} returned)" if line.quantity_returned else "")
                for line in shipment.lines.all()
            ),
        )

    @admin.display(description="return")
    def return_link(self, shipment: Shipment) -> str:
        if not any(line.quantity_returnable for line in shipment.lines.all()):
            return "-"
        url = reverse("admin:orders_order_return", args=[shipment.order_id, shipment.number])
        return format_html('<a href="{}">Record a return…</a>', url)


class ParcelForm(forms.Form):
    """One parcel: a carrier from the list (or another, named), its tracking number, and how many
    units of each line go in it (prefilled with everything left to ship)."""

    carrier = forms.ChoiceField(choices=[(name, name) for name in CARRIERS] + [(OTHER_CARRIER, "Another carrier…")])
    other_carrier = forms.CharField(max_length=100, required=False, label="Other carrier's name")
    tracking_number = forms.CharField(max_length=100)

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        self.order = order
        for line in order.lines.all():
            left = line.quantity_to_ship
            if left:
                self.fields[f"line_{line.sku}"] = forms.IntegerField(
                    min_value=0,
                    max_value=left,
                    initial=left,
                    required=False,
                    label=f"{line.sku} — {line.product_name} ({left} of {line.quantity} to ship)",
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("carrier") == OTHER_CARRIER:
            if not cleaned.get("other_carrier", "").strip():
                self.add_error("other_carrier", "Name the carrier.")
            cleaned["carrier"] = cleaned.get("other_carrier", "").strip()
        lines = {
            name.removeprefix("line_"): value for name, value in cleaned.items() if name.startswith("line_") and value
        }
        if not lines and not self.errors:
            raise forms.ValidationError("Put at least one unit in the parcel.")
        cleaned["lines"] = lines
        return cleaned


class OrderShipmentsMixin:
    def get_urls(self):
        return [
            path("<uuid:order_id>/parcel/", self.admin_site.admin_view(self.parcel_view), name="orders_order_parcel"),
            *super().get_urls(),
        ]

    def has_ship_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.ship_order")

    def parcel_view(self, request: HttpRequest, order_id) -> HttpResponse:
        order = get_object_or_404(Order, pk=order_id)
        if not self.has_ship_permission(request):
            raise PermissionDenied
        form = ParcelForm(request.POST if request.method == "POST" else None, order=order)
        if request.method == "POST" and form.is_valid():
            try:
                shipment = shipment_create(
                    order=order,
                    carrier=form.cleaned_data["carrier"],
                    tracking_number=form.cleaned_data["tracking_number"],
                    lines=form.cleaned_data["lines"],
                    actor=staff_actor(request.user),
                )
            except ApplicationError as error:
                form.add_error(None, str(error.detail))
            else:
                self.message_user(
                    request,
                    f"{order.number}: parcel {shipment.number} shipped "
                    f"({money_format(shipment.amount, shipment.currency)}).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return TemplateResponse(
            request,
            "admin/orders/order/parcel.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Ship a parcel of order {order.number}",
                "opts": self.model._meta,
                "original": order,
                "form": form,
            },
        )

    @admin.action(description="Close the selected orders' unshipped rest (never ships)", permissions=["ship"])
    def close_unshipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset:
            self._run(request, order, "closed (the rest will not ship)", order_close_unshipped)
