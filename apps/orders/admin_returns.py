"""The orders admin's returns: the order's returns on its page, and the form that records goods
sent back from one parcel (units per line, a reason, whether each line goes back in stock, and,
for staff who may refund, the refund of their share), confirmed on a second page like a refund. A
mixin of OrderAdmin (apps/orders/admin.py); every change goes through services/returns.py."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from apps.core.currencies import money_format
from apps.core.exceptions import ApplicationError
from apps.orders.admin_display import ReadOnlyInline
from apps.orders.models import Order, ParcelReturn, Shipment
from apps.orders.services.returns import REASON_MAX_LENGTH, return_preview, return_record
from apps.orders.services.transitions import staff_actor

NO_REFUND = "no refund"


class ReturnInline(ReadOnlyInline):
    model = ParcelReturn
    verbose_name_plural = "Returns"
    fields = ["number", "parcel", "recorded_at", "returned", "reason", "refunded", "recorded_by"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ParcelReturn]:
        return super().get_queryset(request).select_related("shipment", "refund").prefetch_related("lines")

    @admin.display(description="parcel")
    def parcel(self, parcel_return: ParcelReturn) -> int:
        return parcel_return.shipment.number

    @admin.display(description="returned")
    def returned(self, parcel_return: ParcelReturn) -> str:
        return format_html_join(
            mark_safe("<br>"),
            "{} x {} ({})",
            (
                (line.quantity, line.sku, "back in stock" if line.restock else "not restocked")
                for line in parcel_return.lines.all()
            ),
        )

    @admin.display(description="refund")
    def refunded(self, parcel_return: ParcelReturn) -> str:
        refund = parcel_return.refund
        if refund is None:
            return "-"
        return f"{money_format(refund.amount, refund.currency)} ({refund.get_status_display().lower()})"


class ReturnForm(forms.Form):
    """Goods back from one parcel: how many units of each of its lines (those with units left to
    come back), whether each goes back in stock, why, and (for staff who may refund) whether
    their share is refunded. `return_id` names the return before it exists, so the same form sent
    twice records it once."""

    return_id = forms.UUIDField(widget=forms.HiddenInput)
    reason = forms.CharField(max_length=REASON_MAX_LENGTH, help_text="e.g. arrived damaged, wrong size.")

    def __init__(self, *args: Any, shipment: Shipment, may_refund: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.shipment = shipment
        products = {line.sku: line.product_name for line in shipment.order.lines.all()}
        for line in shipment.lines.all():
            if not line.quantity_returnable:
                continue
            self.fields[f"line_{line.sku}"] = forms.IntegerField(
                min_value=0,
                max_value=line.quantity_returnable,
                initial=0,
                required=False,
                label=f"{line.sku} — {products.get(line.sku, '')} "
                f"({line.quantity_returnable} of {line.quantity} can come back)",
            )
            self.fields[f"restock_{line.sku}"] = forms.BooleanField(
                required=False, initial=True, label=f"{line.sku} goes back in stock"
            )
        # After the lines: the form reads top to bottom as what, why, then money.
        self.fields["reason"] = self.fields.pop("reason")
        if may_refund:
            self.fields["refund"] = forms.BooleanField(
                required=False, label="Refund the returned units", help_text="Their share of what the shopper paid."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        lines = {
            name.removeprefix("line_"): value for name, value in cleaned.items() if name.startswith("line_") and value
        }
        if not lines and not self.errors:
            raise forms.ValidationError("Return at least one unit.")
        cleaned["lines"] = lines
        cleaned["restock"] = sorted(sku for sku in lines if cleaned.get(f"restock_{sku}"))
        cleaned["refund"] = bool(cleaned.get("refund"))
        return cleaned


class OrderReturnsMixin:
    def get_urls(self):
        return [
            path(
                "<uuid:order_id>/parcel/<int:number>/return/",
                self.admin_site.admin_view(self.return_view),
                name="orders_order_return",
            ),
            *super().get_urls(),
        ]

    def has_return_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.record_return")

    def return_view(self, request: HttpRequest, order_id: uuid.UUID, number: int) -> HttpResponse:
        """The return form, then a confirmation page naming what comes back, what goes back in
        stock and the refund (nothing is recorded until staff confirm; a confirmation for a refund
        amount that has changed since is asked again)."""
        shipment = get_object_or_404(
            Shipment.objects.select_related("order").prefetch_related("lines"), order_id=order_id, number=number
        )
        order = shipment.order
        if not self.has_return_permission(request):
            raise PermissionDenied
        if request.method == "POST" and (earlier := self._recorded(order, request.POST.get("return_id"))):
            # The same form sent again (a double click, a reload): checked before the form, whose
            # lines may have nothing left to return now.
            return self._returned(request, order, earlier, created=False)
        form = ReturnForm(
            request.POST if request.method == "POST" else None,
            shipment=shipment,
            may_refund=self.has_refund_permission(request),
            initial={"return_id": uuid.uuid4()},
        )
        if request.method != "POST" or not form.is_valid():
            return self._return_page(request, shipment, form)
        return_id = form.cleaned_data["return_id"]
        asked = {
            "order": order,
            "parcel": number,
            "lines": form.cleaned_data["lines"],
            "restock": form.cleaned_data["restock"],
            "reason": form.cleaned_data["reason"],
            "refund": form.cleaned_data["refund"],
        }
        try:
            amount = return_preview(**asked)
        except ApplicationError as error:
            form.add_error(None, str(error.detail))
            return self._return_page(request, shipment, form)
        shown = NO_REFUND if amount is None else money_format(amount, order.currency)
        if request.POST.get("confirm") != shown:
            return self._return_page(request, shipment, form, confirm=shown, changed="confirm" in request.POST)
        try:
            recorded, created = return_record(**asked, actor=staff_actor(request.user), return_id=return_id)
        except ApplicationError as error:
            form.add_error(None, str(error.detail))
            return self._return_page(request, shipment, form)
        return self._returned(request, order, recorded, created=created)

    @staticmethod
    def _recorded(order: Order, return_id: str | None) -> ParcelReturn | None:
        try:
            return ParcelReturn.objects.filter(pk=uuid.UUID(str(return_id)), order=order).first()
        except ValueError:
            return None  # the form says what is wrong with it

    def _returned(self, request: HttpRequest, order: Order, recorded: ParcelReturn, *, created: bool) -> HttpResponse:
        if not created:
            self.message_user(
                request,
                f"{order.number}: return {recorded.number} was already recorded; nothing more was done.",
                messages.WARNING,
            )
        else:
            refund = recorded.refund
            asked = f", refund of {money_format(refund.amount, refund.currency)} requested" if refund else ""
            self.message_user(
                request,
                f"{order.number}: return {recorded.number} of parcel {recorded.shipment.number} recorded{asked}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def _return_page(
        self, request: HttpRequest, shipment: Shipment, form: ReturnForm, *, confirm: str = "", changed: bool = False
    ) -> HttpResponse:
        order = shipment.order
        context = {
            **self.admin_site.each_context(request),
            "title": f"Return from parcel {shipment.number} of order {order.number}",
            "opts": self.model._meta,
            "original": order,
            "shipment": shipment,
            "form": form,
            "confirm": confirm,
            "changed": changed,
            "no_refund": NO_REFUND,
        }
        if confirm:
            restock = set(form.cleaned_data["restock"])
            context["returned"] = [
                (sku, quantity, sku in restock) for sku, quantity in sorted(form.cleaned_data["lines"].items())
            ]
            context["title"] = f"Confirm the return from parcel {shipment.number} of order {order.number}"
        return TemplateResponse(
            request,
            "admin/orders/order/return_confirm.html" if confirm else "admin/orders/order/return.html",
            context,
        )
