"""Split shape: outside users, replicated staff accounts are shown read-only (users owns them);
groups keep their per-service permissions editable, but not their names."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory

from apps.core.adminsite import staff_replica_admin_register

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def site() -> admin.AdminSite:
    # A service's admin as Django's auth app registers it, before the replica admins replace it.
    site = admin.AdminSite(name="replica-test")
    site.register(get_user_model(), UserAdmin)
    site.register(Group, GroupAdmin)
    staff_replica_admin_register(site=site)
    return site


@pytest.fixture
def request_by_superuser():
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")
    return request


def test_staff_accounts_are_read_only_outside_users(site, request_by_superuser):
    user_admin = site._registry[get_user_model()]
    account = request_by_superuser.user

    assert user_admin.has_view_permission(request_by_superuser, account)
    assert not user_admin.has_add_permission(request_by_superuser)
    assert not user_admin.has_change_permission(request_by_superuser, account)
    assert not user_admin.has_delete_permission(request_by_superuser, account)


def test_groups_keep_their_permissions_editable_but_not_their_names(site, request_by_superuser):
    group_admin = site._registry[Group]
    group = Group.objects.create(name="merchandisers")
    group.permissions.add(Permission.objects.filter(codename="view_group").get())

    assert group_admin.has_change_permission(request_by_superuser, group)
    assert group_admin.get_readonly_fields(request_by_superuser, group) == ["name"]
    assert not group_admin.has_delete_permission(request_by_superuser, group)
