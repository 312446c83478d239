"""The catalog's back office in the admin (a mixin of ProductAdmin). Import: upload a CSV or JSON
file (the columns of manage.py import_catalog), see a dry-run preview (every error, or what would
change), then confirm; the same validation and service as the command, nothing written before the
confirmation. Export: the products the changelist shows, as CSV in those same columns."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.catalog import selectors
from apps.catalog.importing import ImportFileError, parse_rows, validate_rows
from apps.catalog.models import Variant
from apps.catalog.services.imports import catalog_import
from apps.core.csv_export import csv_response
from apps.core.exceptions import ValidationFailed

_PENDING_SECONDS = 3600
_SHOWN_ERRORS = 200


class CatalogImportForm(forms.Form):
    file = forms.FileField(help_text="A .csv or .json file with the columns of manage.py import_catalog.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CATALOG_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"Import at most {settings.CATALOG_IMPORT_MAX_BYTES // (1024 * 1024)} MB; use manage.py import_catalog."
            )
        try:
            return upload.name, upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None


class CatalogBackOfficeMixin:
    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="catalog_product_import"),
            path("export.csv", self.admin_site.admin_view(self.export_view), name="catalog_product_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        query = request.GET.urlencode()
        export = reverse("admin:catalog_product_export") + (f"?{query}" if query else "")
        return super().changelist_view(request, {**(extra_context or {}), "export_url": export})

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The variants of the products the changelist shows (its filters and search), one row
        each, in the import's columns: an export can be edited and imported back."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            products = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:catalog_product_changelist") + "?e=1")
        variants = (
            Variant.objects.filter(product__in=products.values("pk"))
            .select_related("product__category", "stock")
            .order_by("product__slug", "position", "sku")
        )
        return csv_response(
            filename="catalog.csv",
            header=list(EXPORT_COLUMNS),
            rows=map(_export_row, variants.iterator(chunk_size=1000)),
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._import_confirmed(request, request.POST["token"])
        form = CatalogImportForm(request.POST or None, request.FILES or None)
        context: dict[str, Any] = {"form": form}
        if request.method == "POST" and form.is_valid():
            name, text = form.cleaned_data["file"]
            try:
                rows, errors = validate_rows(parse_rows(text=text, path=Path(name)))
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                context.update(self._preview(request, name=name, text=text, rows=rows, errors=errors))
        return TemplateResponse(
            request,
            "admin/catalog/product/import.html",
            {
                **self.admin_site.each_context(request),
                "title": "Import the catalog",
                "opts": self.model._meta,
                **context,
            },
        )

    def _preview(self, request: HttpRequest, *, name: str, text: str, rows: list, errors: list) -> dict[str, Any]:
        if errors:
            return {"errors": [str(error) for error in errors[:_SHOWN_ERRORS]], "error_count": len(errors)}
        if not rows:
            return {"errors": ["The file has no rows."], "error_count": 1}
        # The validated file waits (in the shared cache) for the confirmation of the same person.
        token = secrets.token_urlsafe(24)
        cache.set(_key(token), {"user": request.user.pk, "name": name, "text": text}, _PENDING_SECONDS)
        return {"token": token, "name": name, "preview": selectors.catalog_import_preview(rows=rows), "rows": rows[:20]}

    def _import_confirmed(self, request: HttpRequest, token: str) -> HttpResponse:
        pending = cache.get(_key(token))
        if not pending or pending["user"] != request.user.pk:
            messages.error(request, "This import preview has expired; upload the file again.")
            return HttpResponseRedirect(reverse("admin:catalog_product_import"))
        cache.delete(_key(token))
        rows, errors = validate_rows(parse_rows(text=pending["text"], path=Path(pending["name"])))
        try:
            if errors:
                raise ValidationFailed({"rows": [str(error) for error in errors]})
            summary = catalog_import(
                rows=rows, actor=f"admin:{request.user.get_username()}", reason=f"admin import {pending['name']}"
            )
        except ValidationFailed:
            messages.error(request, "The catalog changed since the preview; nothing was imported. Upload it again.")
            return HttpResponseRedirect(reverse("admin:catalog_product_import"))
        messages.success(
            request,
            f"Imported {len(rows)} rows: {summary.products_created} products created, {summary.products_updated} "
            f"updated; {summary.variants_created} variants created, {summary.variants_updated} updated; "
            f"{summary.stock_adjusted} stock levels set.",
        )
        return HttpResponseRedirect(reverse("admin:catalog_product_changelist"))


EXPORT_COLUMNS = (
    "product_slug",
    "product_name",
    "description",
    "brand",
    "category",
    "product_active",
    "attributes",
    "sku",
    "variant_name",
    "price",
    "currency",
    "compare_at_price",
    "options",
    "weight_grams",
    "stock",
    "variant_active",
)


def _export_row(variant: Variant) -> list[Any]:
    product = variant.product
    stock = getattr(variant, "stock", None)
    return [
        product.slug,
        product.name,
        product.description,
        product.brand,
        product.category.slug if product.category else "",
        str(product.active).lower(),
        json.dumps(product.attributes, ensure_ascii=False),
        variant.sku,
        variant.name,
        str(variant.price),
        variant.currency,
        "" if variant.compare_at_price is None else str(variant.compare_at_price),
        json.dumps(variant.option_values, ensure_ascii=False),
        "" if variant.weight_grams is None else variant.weight_grams,
        stock.on_hand if stock else "",
        str(variant.active).lower(),
    ]


def _key(token: str) -> str:
    return f"catalog-import:{token}"
