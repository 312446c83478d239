"""How the orders admin shows values to staff: the parts of an order on its page (read-only
inlines), money in its currency's minor units, a shipping address as lines, a refund's lines as
"SKU x quantity"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from apps.core.adminsite import ReadOnlyAdminMixin
from apps.core.currencies import money_format
from apps.orders.models import MONEY


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Parts of the object on the page (an order's lines, parcels, returns, history, refunds,
    notes): shown to whoever may see the object, never edited here."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None) -> bool:
        # Django would ask for "view" on the inline's own model (view_orderline, ...), which no
        # role names: staff who may see an order would see it without its lines.
        opts = self.parent_model._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("view", "change")
        )


def _is_money(field: Any) -> bool:
    # The whole MONEY shape: a tax rate has four decimals too, and is no amount of money.
    return field.get_internal_type() == "DecimalField" and (field.max_digits, field.decimal_places) == (
        MONEY["max_digits"],
        MONEY["decimal_places"],
    )


def money_display(name: str, label: str) -> Callable[[Any], str]:
    """A read-only column showing the money field `name` in its row's currency's minor units."""

    def display(obj: Any) -> str:
        return money_format(getattr(obj, name), obj.currency)

    display.__name__ = f"{name}_display"
    display.short_description = label  # type: ignore[attr-defined]
    return display


def money_fields(model: type, names: list[str]) -> list[Any]:
    """`names` with every money field among them replaced by its minor-units display."""
    shown = []
    for name in names:
        field = model._meta.get_field(name)
        shown.append(money_display(name, str(field.verbose_name)) if _is_money(field) else name)
    return shown


ADDRESS_PARTS = ("full_name", "company", "line1", "line2", "postal_code", "city", "region", "country", "phone")


def address_display(address: Any) -> str:
    """A shipping address snapshot as lines, in the order a label prints them."""
    if not isinstance(address, dict):
        return "-"
    parts = [str(address[key]) for key in ADDRESS_PARTS if address.get(key)]
    parts += [f"{key}: {value}" for key, value in address.items() if key not in ADDRESS_PARTS and value]
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts)) or "-"


def refund_lines_display(refund: Any) -> str:
    """The lines a refund names ("MUG-01 x 1"), one a line; "-" for a refund by amount."""
    lines = refund.lines if isinstance(refund.lines, list) else []
    return (
        format_html_join(
            mark_safe("<br>"), "{} x {}", ((line.get("sku", "?"), line.get("quantity", "?")) for line in lines)
        )
        or "-"
    )


refund_lines_display.short_description = "lines"  # type: ignore[attr-defined]
