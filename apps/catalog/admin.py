"""Admin of the catalog service: the category tree, products with their variants (and each
variant's stock) and images, bulk activation, and stock adjustments that leave an audit row.

Edits go through the services, so they publish product.updated and audit stock like the API and
the import do; stock on hand changes only through a stock adjustment."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.catalog import selectors
from apps.catalog.admin_backoffice import CatalogBackOfficeMixin
from apps.catalog.images import image_clean, image_thumbnail
from apps.catalog.models import (
    BulkJob,
    Category,
    Product,
    ProductImage,
    Reservation,
    ReservationLine,
    Stock,
    StockAdjustment,
    Variant,
    product_variant_errors,
)
from apps.catalog.services.bulk import product_bulk_job_start
from apps.catalog.services.common import PRODUCER
from apps.catalog.services.products import (
    product_listing_refresh,
    product_updates_publish,
    products_history_log,
    products_set_active,
    variant_skus_renamed,
)
from apps.catalog.services.stock import stock_adjust, stock_ensure
from apps.core.adminsite import ActionsOnlyAdminMixin, ReadOnlyAdminMixin
from apps.core.db import atomic
from apps.core.exceptions import ApplicationError, ValidationFailed


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "position"]
    list_editable = ["position"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]
    ordering = ["parent__name", "position", "name"]


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("sku")
        ]
        # The product form has already copied its fields onto the instance when this runs.
        errors = product_variant_errors(
            published=bool(self.instance.active),
            variants=[(data.get("currency") or "", bool(data.get("active"))) for data in kept],
        )
        if errors:
            raise ValidationError(errors)

    def skus_renamed(self) -> dict[int, tuple[str, str]]:
        """variant id -> (old SKU, new SKU) of the saved variants whose SKU this edit changes."""
        return {
            form.instance.pk: (form.initial["sku"], form.cleaned_data["sku"])
            for form in self.initial_forms
            if "sku" in form.changed_data and form.cleaned_data and not form.cleaned_data.get("DELETE")
        }


class VariantInline(admin.TabularInline):
    model = Variant
    formset = VariantFormSet
    extra = 0
    fields = [
        "sku",
        "name",
        "price",
        "currency",
        "compare_at_price",
        "option_values",
        "weight_grams",
        "active",
        "position",
        "on_hand",
        "reserved",
        "available",
    ]
    readonly_fields = ["on_hand", "reserved", "available"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Variant]:
        return super().get_queryset(request).select_related("stock")

    @admin.display(description="on hand")
    def on_hand(self, variant: Variant) -> int:
        return _stock(variant).on_hand

    @admin.display(description="reserved")
    def reserved(self, variant: Variant) -> int:
        return _stock(variant).reserved

    @admin.display(description="available")
    def available(self, variant: Variant) -> int:
        return _stock(variant).available


def _stock(variant: Variant) -> Stock:
    try:
        return variant.stock
    except Stock.DoesNotExist:
        return Stock(on_hand=0, reserved=0)


class ProductImageForm(forms.ModelForm):
    class Meta:
        model = ProductImage
        fields = ["image", "alt_text", "position"]

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        # A new upload is replaced by its checked, metadata-free re-encoding; a kept one is as stored.
        if upload and not getattr(upload, "_committed", False):
            cleaned = image_clean(upload)
            self.instance.thumbnail = image_thumbnail(cleaned)
            return cleaned
        return upload


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    form = ProductImageForm
    extra = 1
    fields = ["image", "alt_text", "position"]


@admin.register(Product)
class ProductAdmin(CatalogBackOfficeMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "brand", "category", "active", "updated_at"]
    list_filter = ["active", ("category", admin.RelatedOnlyFieldListFilter), "tax_class", "brand"]
    search_fields = ["name", "slug", "brand", "variants__sku"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    readonly_fields = ["id", "created_at", "updated_at"]
    fields = [
        "id",
        "name",
        "slug",
        "category",
        "brand",
        "description",
        "attributes",
        "tax_class",
        "active",
        "created_at",
        "updated_at",
    ]
    inlines = [VariantInline, ProductImageInline]
    change_list_template = "admin/catalog/product/change_list.html"
    actions = ["activate", "deactivate"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Product]:
        return super().get_queryset(request).defer("search_vector")

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        # The admin's changeform runs in one transaction on the catalog database; remember the
        # variants' sellable state before anything is saved, to publish what the edit changed.
        request._catalog_before = selectors.variant_snapshots(product_ids=[obj.pk]) if change else {}
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        renamed = {
            pk: names
            for formset in formsets
            if isinstance(formset, VariantFormSet)
            for pk, names in formset.skus_renamed().items()
        }
        super().save_related(request, form, formsets, change)
        product = form.instance
        if renamed:
            variant_skus_renamed(renamed=renamed)
        stock_ensure(variants=product.variants.all())
        product_listing_refresh(product_ids=[product.pk])
        product_updates_publish(before=getattr(request, "_catalog_before", {}), product_ids=[product.pk])

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Stock rows go with their variant, and audit rows and order reservations are protected
        # (listed below, with why): neither is a question of the staff member's permissions.
        perms_needed = {
            name
            for name in perms_needed
            if name not in {str(model._meta.verbose_name) for model in (Stock, StockAdjustment, ReservationLine)}
        }
        if protected:
            self.message_user(
                request,
                "This product has stock history or was ordered, which must stay on record: "
                "unpublish it instead (a draft is hidden from the shop).",
                messages.WARNING,
            )
        return deleted, counts, perms_needed, protected

    @admin.action(description="Publish selected products", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        product_ids = list(queryset.values_list("pk", flat=True))
        unsellable = selectors.product_ids_without_active_variant(product_ids=product_ids)
        if unsellable:
            self.message_user(
                request, f"{len(unsellable)} product(s) not published: no active variant.", messages.WARNING
            )
        self._set_active(request, product_ids, active=True)

    @admin.action(description="Unpublish selected products (back to draft)", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._set_active(request, list(queryset.values_list("pk", flat=True)), active=False)

    def _set_active(self, request: HttpRequest, product_ids: list, *, active: bool) -> None:
        verb = "published" if active else "unpublished"
        if len(product_ids) > settings.CATALOG_BULK_INLINE_LIMIT:
            # Thousands of products (and their events) are not changed inside one request.
            job = product_bulk_job_start(
                product_ids=product_ids, active=active, user_id=request.user.pk, username=request.user.get_username()
            )
            url = reverse("admin:catalog_bulkjob_change", args=[job.pk])
            self.message_user(
                request,
                format_html(
                    '{} products are being {} in the background: <a href="{}">see progress</a>.',
                    len(product_ids),
                    verb,
                    url,
                ),
                messages.INFO,
            )
            return
        with atomic(PRODUCER):
            changed = products_set_active(product_ids=product_ids, active=active)
            products_history_log(
                user_id=request.user.pk, product_ids=changed, message=f"{verb.capitalize()} (bulk action)."
            )
        self.message_user(request, f"{len(changed)} product(s) {verb}.", messages.SUCCESS)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the progress of the bulk changes running in the background."""

    list_display = ["created_at", "action", "progress", "changed", "status", "requested_by", "finished_at"]
    list_filter = ["status", "action"]
    fields = ["action", "progress", "changed", "status", "error", "requested_by", "created_at", "finished_at"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="progress")
    def progress(self, job: BulkJob) -> str:
        percent = 100 * job.done // job.total if job.total else 100
        return f"{job.done} of {job.total} ({percent}%)"


class StockLevelFilter(admin.SimpleListFilter):
    """The low-stock list: active variants with at most CATALOG_LOW_STOCK_THRESHOLD available."""

    title = "stock level"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("low", f"Low (≤ {settings.CATALOG_LOW_STOCK_THRESHOLD} available)"), ("out", "Sold out")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Stock]) -> QuerySet[Stock]:
        limit = {"low": settings.CATALOG_LOW_STOCK_THRESHOLD, "out": 0}.get(self.value())
        if limit is None:
            return queryset
        return queryset.filter(variant__active=True, on_hand__lte=F("reserved") + limit).order_by(
            F("on_hand") - F("reserved"), "variant__sku"
        )


@admin.register(Stock)
class StockAdmin(ActionsOnlyAdminMixin, admin.ModelAdmin):
    """Stock changes only through a stock adjustment (its own admin); a variant gets its stock row
    when it is created."""

    list_display = ["sku", "product", "on_hand", "reserved", "available", "updated_at"]
    list_filter = [StockLevelFilter]
    search_fields = ["variant__sku", "variant__product__name"]
    list_select_related = ["variant", "variant__product"]
    readonly_fields = ["variant", "on_hand", "reserved", "available", "updated_at"]
    ordering = ["variant__sku"]
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stock]:
        return super().get_queryset(request).select_related("variant", "variant__product")

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, stock: Stock) -> str:
        return stock.variant.sku

    @admin.display(description="product")
    def product(self, stock: Stock) -> str:
        return stock.variant.product.name

    @admin.display(description="available")
    def available(self, stock: Stock) -> int:
        return stock.available


class StockAdjustmentForm(forms.ModelForm):
    sku = forms.CharField(label="SKU", max_length=64)

    class Meta:
        model = StockAdjustment
        fields = ["sku", "delta", "reason"]
        help_texts = {"delta": "Units to add; negative to remove (e.g. -2 for breakage)."}

    def clean_sku(self) -> str:
        sku = self.cleaned_data["sku"].strip()
        if not Variant.objects.filter(sku=sku).exists():
            raise ValidationError(f"There is no SKU {sku!r}.")
        return sku

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            # The service validates again under a row lock; this check gives the form its errors.
            stock = Stock.objects.filter(variant__sku=cleaned["sku"]).first()
            on_hand, reserved = (stock.on_hand, stock.reserved) if stock else (0, 0)
            if cleaned["delta"] == 0:
                raise ValidationError({"delta": "Enter a number of units other than 0."})
            if on_hand + cleaned["delta"] < max(reserved, 0):
                raise ValidationError(
                    {"delta": f"On hand is {on_hand} with {reserved} reserved: stock cannot go below that."}
                )
        except KeyError:
            pass
        return cleaned


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(admin.ModelAdmin):
    """The audit trail: add an adjustment here; rows are never edited or deleted."""

    form = StockAdjustmentForm
    list_display = ["created_at", "sku", "delta", "on_hand_after", "reason", "actor"]
    list_filter = ["created_at"]
    search_fields = ["sku", "reason", "actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return (
            ["sku", "delta", "reason"]
            if obj is None
            else ["sku", "delta", "on_hand_after", "reason", "actor", "order_id", "refund_id", "created_at"]
        )

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: StockAdjustment, form, change: bool) -> None:
        try:
            saved = stock_adjust(
                sku=form.cleaned_data["sku"],
                delta=form.cleaned_data["delta"],
                reason=form.cleaned_data["reason"],
                actor=request.user.get_username(),
            )
        except (ValidationFailed, ApplicationError) as error:
            # A concurrent change got there first; the form's check passed on older numbers.
            self.message_user(request, f"Stock not adjusted: {error.detail}", messages.ERROR)
            raise
        obj.pk = saved.pk
        obj.__dict__.update({key: value for key, value in saved.__dict__.items() if not key.startswith("_")})


class ReservationLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReservationLine
    extra = 0
    fields = ["sku", "quantity"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: reservations change only through the order saga's events."""

    list_display = ["order_id", "status", "created_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["order_id", "lines__sku"]
    readonly_fields = ["order_id", "status", "created_at", "updated_at"]
    inlines = [ReservationLineInline]
    show_full_result_count = False
