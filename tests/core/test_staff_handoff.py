"""Split shape: one sign-in for every admin. Users' admin signs a short-lived, single-use hand-off;
the target admin signs the named staff member in from its own copy of the account, and refuses
anything expired, tampered with, meant for another admin, replayed, opened in another browser than
the one that asked for it (login CSRF), or for someone not staff."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory

from apps.core.adminsite import staff_handoff_links
from apps.core.staff_handoff import (
    BROWSER_COOKIE,
    HandoffRefused,
    handoff_finish,
    handoff_start,
    staff_handoff_issue,
)

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


def _request(path: str, cookies: dict[str, str] | None = None, **params: str):
    request = RequestFactory().get(path, params)
    request.COOKIES.update(cookies or {})
    SessionMiddleware(lambda _: None).process_request(request)
    request._messages = FallbackStorage(request)
    return request


def _start(user, service: str = "catalog") -> tuple[str, dict[str, str]]:
    """Users' admin asked for a hand-off by `user`'s browser: the token in the redirect, and the
    cookie that browser now holds."""
    request = _request(f"/admin/users/handoff/{service}/", next=PRODUCTS)
    request.user = user
    response = handoff_start(request, service)
    cookie = response.cookies[BROWSER_COOKIE]
    assert cookie["path"] == f"/admin/{service}/handoff/" and cookie["httponly"]
    return parse_qs(urlsplit(response.url).query)["token"][0], {BROWSER_COOKIE: cookie.value}


def _redeem(token: str, cookies: dict[str, str]):
    request = _request("/admin/catalog/handoff/", cookies, token=token, next=PRODUCTS)
    return request, handoff_finish(request)


def test_a_handoff_signs_the_staff_member_in_once(catalog_admin):
    user = _staff()
    token, cookies = _start(user)

    request, response = _redeem(token, cookies)
    replayed_request, replayed = _redeem(token, cookies)

    assert (response.status_code, response.url) == (302, PRODUCTS)
    assert request.session["_auth_user_id"] == str(user.pk)
    assert replayed.url.startswith("/admin/catalog/login/")
    assert "_auth_user_id" not in replayed_request.session
    assert response.cookies[BROWSER_COOKIE].value == ""  # the browser's half is used up


def test_a_handoff_opened_in_another_browser_signs_no_one_in(catalog_admin):
    # Given an attacker, staff too, who asks users for a hand-off into catalog and keeps the link
    # instead of following it
    attacker = _staff("mallory")
    token, attacker_cookies = _start(attacker)

    # When the victim's browser opens that link (a cross-site redirect, an image, a mail link):
    # it has no hand-off cookie, or one of its own from another hand-off
    _, own_cookies = _start(_staff("victim"))
    results = [_redeem(token, {}), _redeem(token, own_cookies)]

    # Then the victim is not signed in to catalog as the attacker
    for request, response in results:
        assert response.url.startswith("/admin/catalog/login/")
        assert "_auth_user_id" not in request.session
    # and the token still works in the attacker's own browser (it was never spent by the victim's)
    request, _ = _redeem(token, attacker_cookies)
    assert request.session["_auth_user_id"] == str(attacker.pk)


@pytest.mark.parametrize("case", ["other_service", "tampered", "expired", "inactive", "not_staff"])
def test_a_handoff_that_is_not_valid_here_signs_no_one_in(catalog_admin, case):
    user = _staff()
    token, cookies = _start(user, "orders" if case == "other_service" else "catalog")
    if case == "tampered":
        token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    if case == "expired":
        catalog_admin.STAFF_HANDOFF_MAX_AGE = -1
    if case in {"inactive", "not_staff"}:
        setattr(user, "is_active" if case == "inactive" else "is_staff", False)
        user.save()

    request, response = _redeem(token, cookies)

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
        staff_handoff_issue(user=_staff(is_active=False), service="catalog", browser="b")
    with pytest.raises(HandoffRefused):
        staff_handoff_issue(user=_staff("bob"), service="users", browser="b")


def test_the_split_admins_link_to_each_other_through_users(catalog_admin):
    on_catalog = staff_handoff_links(_request("/admin/catalog/login/", next=PRODUCTS))
    catalog_admin.SERVICE, catalog_admin.ADMIN_URL = "users", "admin/users/"
    on_users = staff_handoff_links(_request("/admin/users/"))

    assert on_catalog["handoff_url"] == "/admin/users/handoff/catalog/?next=" + PRODUCTS
    assert ("orders", "/admin/users/handoff/orders/") in on_users["other_admins"]
