"""The staff admin's frame, the same in every service: the shop's name as its title, "View site"
leading to the shop, links from one service's admin into another's, and (split shape) staff
accounts shown read-only outside users, which owns them."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.utils.functional import lazy

from config.services import SERVICES


def _header() -> str:
    return f"{settings.SHOP_NAME} admin" + (f" — {settings.SERVICE}" if settings.SERVICE else "")


def admin_site_configure() -> None:
    """Title the admin by the shop and point "View site" at the shop; read per request, so the
    settings stay where they belong (nothing is read at import time)."""
    admin.site.site_header = lazy(_header, str)()
    admin.site.site_title = lazy(_header, str)()
    admin.site.site_url = lazy(lambda: settings.SHOP_FRONTEND_URL, str)()
    if settings.ALL_IN_ONE:
        return
    if settings.SERVICE == "users":
        admin.site.index_template = "admin/staff/index.html"
    else:
        staff_replica_admin_register(site=admin.site)
        admin.site.login_template = "admin/staff/login.html"


def staff_handoff_context(*, service: str | None, next_path: str = "") -> dict:
    """What the split admins' templates link to: from users, every other admin through a hand-off;
    elsewhere, the hand-off that starts in users (see apps/core/staff_handoff.py)."""
    if service is None:
        return {}
    if service == "users":
        return {
            "other_admins": [
                (name, service_admin_url("users", f"handoff/{name}/")) for name in SERVICES if name != "users"
            ]
        }
    query = f"?next={quote(next_path)}" if next_path else ""
    return {"handoff_url": service_admin_url("users", f"handoff/{service}/") + query}


def service_admin_url(service: str, path: str) -> str:
    """The address of `path` (e.g. "users/customer/<id>/change/") in `service`'s admin: this
    process's admin all-in-one, that service's admin (same host, its own prefix) when split."""
    prefix = settings.ADMIN_URL if settings.ALL_IN_ONE else SERVICES[service].admin_prefix
    return f"/{prefix}{path}"


class ReadOnlyAdminMixin:
    """For the admin (or inline) of rows that are written elsewhere (by events, sends, another
    service), never by hand: they are shown, never added, changed or deleted. Put it before the
    admin class it is mixed into."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ActionsOnlyAdminMixin:
    """For rows staff change only through the admin's actions (which go through the services):
    the list and its actions are there, each row's page is read-only (no Save buttons that would
    only log "No fields changed"), and nothing is added or deleted by hand. Put it before the
    admin class it is mixed into."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Django asks without a row for the list and its actions, with one for the row's page.
        return obj is None and super().has_change_permission(request)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReplicatedUserAdmin(ReadOnlyAdminMixin, UserAdmin):
    """A staff account copied from users (staff.changed): shown, never edited here, since the next
    copy would overwrite the edit. Accounts, passwords and group membership change in users' admin."""


class ReplicatedGroupAdmin(GroupAdmin):
    """Groups: their names and members come from users; what each group may do in this service
    (its permissions, which name this service's models) is set here, as designed."""

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["name"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # the next staff.changed naming the group would bring it back, empty


def staff_replica_admin_register(*, site: admin.AdminSite) -> None:
    """Replace the auth admins of `site` (a non-users service's, split shape) by the replica ones."""
    user_model = get_user_model()
    for model, model_admin in ((user_model, ReplicatedUserAdmin), (Group, ReplicatedGroupAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)


def staff_handoff_links(request: HttpRequest) -> dict:
    """Template context processor: the hand-off links on the split admins' pages (nothing
    all-in-one, where there is one admin)."""
    if settings.ALL_IN_ONE or not request.path.startswith(f"/{settings.ADMIN_URL}"):
        return {}
    return staff_handoff_context(service=settings.SERVICE, next_path=request.GET.get("next", ""))
