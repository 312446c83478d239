"""The orders admin's back office: CSV export of the orders the changelist shows, the sales
summary, and staff notes on an order. A mixin of OrderAdmin (apps/orders/admin.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from apps.core.csv_export import csv_response
from apps.core.currencies import minor_unit, money_format
from apps.core.exceptions import ApplicationError
from apps.orders.models import Order
from apps.orders.sales import sales_by_day, sales_by_product
from apps.orders.services.notes import order_note_add


class OrderNoteForm(forms.Form):
    body = forms.CharField(label="Note", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))


class OrderBackOfficeMixin:
    def get_urls(self):
        return [
            path("export.csv", self.admin_site.admin_view(self.export_view), name="orders_order_export"),
            path("sales/", self.admin_site.admin_view(self.sales_view), name="orders_order_sales"),
            path("<uuid:order_id>/note/", self.admin_site.admin_view(self.note_view), name="orders_order_note"),
            *super().get_urls(),
        ]

    # --- CSV export ------------------------------------------------------------------------------

    EXPORT_HEADER = [
        "number",
        "created_at",
        "status",
        "payment_status",
        "email",
        "customer_id",
        "currency",
        "subtotal",
        "discount",
        "shipping",
        "tax",
        "total",
        "amount_captured",
        "amount_refunded",
        "shipping_method",
        "voucher_code",
        "country",
    ]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The orders the changelist shows (its filters, search and dates), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:orders_order_changelist") + "?e=1")
        orders = changelist.get_queryset(request).order_by("-created_at", "-id")
        return csv_response(
            filename="orders.csv",
            header=self.EXPORT_HEADER,
            rows=(self._export_row(order) for order in orders.iterator(chunk_size=1000)),
        )

    @staticmethod
    def _export_row(order: Order) -> list[Any]:
        def money(value: Decimal) -> str:
            return str(value.quantize(minor_unit(order.currency)))

        return [
            order.number,
            order.created_at.isoformat(),
            order.status,
            order.payment_status,
            order.email,
            str(order.customer_id or ""),  # empty: a guest order
            order.currency,
            *(
                money(getattr(order, name))
                for name in ("subtotal", "discount", "shipping", "tax", "total", "amount_captured", "amount_refunded")
            ),
            order.shipping_method,
            order.voucher_code,
            (order.shipping_address or {}).get("country", "") if isinstance(order.shipping_address, dict) else "",
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        query = request.GET.urlencode()
        export = reverse("admin:orders_order_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": export})

    # --- Sales summary ---------------------------------------------------------------------------

    def sales_view(self, request: HttpRequest) -> HttpResponse:
        """Sales per day and per product over the last ?days= days (30; 1 to 366)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", "30")), 1), 366)
        except ValueError:
            days = 30
        until = timezone.now()
        since = until - timedelta(days=days)
        by_day = sales_by_day(since=since, until=until)
        by_product = sales_by_product(since=since, until=until)
        for row in by_day:
            for name in ("gross", "refunded", "net"):
                row[name] = money_format(row[name], row["currency"])
        for row in by_product:
            row["revenue"] = money_format(row["revenue"], row["currency"])
        return TemplateResponse(
            request,
            "admin/orders/order/sales.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Sales of the last {days} days",
                "opts": self.model._meta,
                "days": days,
                "by_day": by_day,
                "by_product": by_product,
            },
        )

    # --- Notes -----------------------------------------------------------------------------------

    def note_view(self, request: HttpRequest, order_id) -> HttpResponse:
        order = get_object_or_404(Order, pk=order_id)
        if not request.user.has_perm("orders.add_ordernote"):
            raise PermissionDenied
        form = OrderNoteForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                order_note_add(order=order, author=request.user.get_username(), body=form.cleaned_data["body"])
            except ApplicationError as error:
                form.add_error("body", str(error.detail))
            else:
                self.message_user(request, f"{order.number}: note added.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return TemplateResponse(
            request,
            "admin/orders/order/note.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Note on order {order.number}",
                "opts": self.model._meta,
                "original": order,
                "form": form,
            },
        )
