"""Split shape: one sign-in for every admin. Users' admin signs a short-lived, single-use hand-off;
the target admin signs the named staff member in from its own copy of the account, and refuses
anything expired, tampered with, meant for another admin, replayed, or for someone not staff."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from apps.core.adminsite import staff_handoff_links
from apps.core.staff_handoff import HandoffRefused, handoff_finish, handoff_start, staff_handoff_issue

pytestmark = pytest.mark.django_db(databases="__all__")

PRODUCTS = "/admin/catalog/catalog/product/"


@pytest.fixture
def catalog_admin(settings):
    # This process plays catalog's admin in the split shape.
    settings.ALL_IN_ONE = False
    settings.SERVICE = "catalog"
    settings.ADMIN_URL = "admin/catalog/"
    return settings


def _staff(username: str = "alice", **fields):
    return get_user_model().objects.create_user(
        username, f"{username}@example.com", "pw-staff-12345", is_staff=True, **fields
    )


def _request(path: str, **params: str):
    request = RequestFactory().get(path, params)
    SessionMiddleware(lambda _: None).process_request(request)
    request._messages = FallbackStorage(request)
    return request


def _redeem(token: str):
    request = _request("/admin/catalog/handoff/", token=token, next=PRODUCTS)
    return request, handoff_finish(request)


def test_a_handoff_signs_the_staff_member_in_once(catalog_admin):
    user = _staff()
    token = staff_handoff_issue(user=user, service="catalog")

    request, response = _redeem(token)
    replayed_request, replayed = _redeem(token)

    assert (response.status_code, response.url) == (302, PRODUCTS)
    assert request.session["_auth_user_id"] == str(user.pk)
    assert replayed.url.startswith("/admin/catalog/login/")
    assert "_auth_user_id" not in replayed_request.session


@pytest.mark.parametrize("case", ["other_service", "tampered", "expired", "inactive", "not_staff"])
def test_a_handoff_that_is_not_valid_here_signs_no_one_in(catalog_admin, case):
    user = _staff()
    token = staff_handoff_issue(user=user, service="orders" if case == "other_service" else "catalog")
    if case == "tampered":
        token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    if case == "expired":
        catalog_admin.STAFF_HANDOFF_MAX_AGE = -1
    if case in {"inactive", "not_staff"}:
        setattr(user, "is_active" if case == "inactive" else "is_staff", False)
        user.save()

    request, response = _redeem(token)

    assert response.url.startswith("/admin/catalog/login/")
    assert "_auth_user_id" not in request.session


def test_users_admin_sends_staff_on_with_a_handoff(catalog_admin):
    catalog_admin.SERVICE = "users"
    catalog_admin.ADMIN_URL = "admin/users/"
    request = _request("/admin/users/handoff/catalog/", next=PRODUCTS)
    request.user = _staff()

    response = handoff_start(request, "catalog")

    location = urlsplit(response.url)
    assert location.path == "/admin/catalog/handoff/"
    assert parse_qs(location.query)["next"] == [PRODUCTS]


def test_only_active_staff_get_a_handoff():
    with pytest.raises(HandoffRefused):
        staff_handoff_issue(user=_staff(is_active=False), service="catalog")
    with pytest.raises(HandoffRefused):
        staff_handoff_issue(user=_staff("bob"), service="users")


def test_the_split_admins_link_to_each_other_through_users(catalog_admin):
    on_catalog = staff_handoff_links(_request("/admin/catalog/login/", next=PRODUCTS))
    catalog_admin.SERVICE, catalog_admin.ADMIN_URL = "users", "admin/users/"
    on_users = staff_handoff_links(_request("/admin/users/"))

    assert on_catalog["handoff_url"] == "/admin/users/handoff/catalog/?next=" + PRODUCTS
    assert ("orders", "/admin/users/handoff/orders/") in on_users["other_admins"]
