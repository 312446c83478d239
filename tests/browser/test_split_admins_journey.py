"""Split shape, in a real browser against the running stack's gateway (scripts/test-stack): staff
sign in once, at users, and work in the catalog and orders admins at the same time (each admin
with its own session and CSRF cookies, so neither signs them out of the other); the staff
accounts those admins copy from users are read-only there; a hand-off link opened in another
browser signs no one in."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urljoin

import pytest

from tests.e2e.client import BASE_URL, SPLIT, STAFF_PASSWORD, STAFF_USERNAME

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not SPLIT, reason="the split shape only (all-in-one has one admin)"),
]

ADMIN = f"{BASE_URL}/admin"


def _signed_in(page, service: str) -> None:
    """`page` shows `service`'s admin to a signed-in person (not its sign-in form)."""
    expect(page.locator("#logout-form")).to_be_visible()
    assert "/login/" not in page.url and page.url.startswith(f"{ADMIN}/{service}/"), page.url


def test_staff_sign_in_once_and_work_in_the_catalog_and_orders_admins_at_once(page, fresh_page):
    mark = uuid.uuid4().hex[:8]

    # Opening the catalog admin asks for a sign-in, and offers the one at users
    page.goto(f"{ADMIN}/catalog/catalog/category/")
    assert "/admin/catalog/login/" in page.url
    page.get_by_role("link", name="Sign in through users").click()

    # The one password form: users' admin; the hand-off then signs them in to catalog
    page.wait_for_url(re.compile(r"/admin/users/login/"))
    page.fill("#id_username", STAFF_USERNAME)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{ADMIN}/catalog/catalog/category/")
    catalog = page
    _signed_in(catalog, "catalog")

    # Orders, in a second tab, through the users admin's link: no password asked again
    orders = page.context.new_page()
    orders.goto(f"{ADMIN}/users/")
    _signed_in(orders, "users")
    orders.get_by_role("link", name="Orders", exact=True).click()
    orders.wait_for_url(f"{ADMIN}/orders/")
    _signed_in(orders, "orders")

    # Each admin keeps its own cookies, on its own path; no shared "sessionid"
    cookies = {(cookie["name"], cookie["path"]) for cookie in page.context.cookies()}
    for service in ("users", "catalog", "orders"):
        assert (f"{service}_sessionid", f"/admin/{service}/") in cookies
        assert (f"{service}_csrftoken", f"/admin/{service}/") in cookies
    assert not {name for name, _ in cookies} & {"sessionid", "csrftoken"}

    # Work in both, alternating: a category in catalog, a (switched-off) voucher in orders, each
    # form posted with its own admin's CSRF token, and neither tab signed out by the other
    catalog.goto(f"{ADMIN}/catalog/catalog/category/add/")
    orders.goto(f"{ADMIN}/orders/orders/voucher/add/")
    catalog.fill("#id_name", f"Staff journey {mark}")
    catalog.fill("#id_slug", f"staff-journey-{mark}")
    catalog.click("input[name=_save]")
    expect(catalog.locator(".messagelist")).to_contain_text(f"Staff journey {mark}")
    orders.fill("#id_code", f"E2E{mark}".upper())
    orders.select_option("#id_kind", index=1)
    orders.fill("#id_value", "5")
    orders.uncheck("#id_active")
    orders.click("input[name=_save]")
    expect(orders.locator(".messagelist")).to_contain_text(f"E2E{mark}".upper())
    catalog.reload()
    _signed_in(catalog, "catalog")
    expect(catalog.locator("#result_list")).to_contain_text(f"Staff journey {mark}")

    # Signing out of orders leaves catalog signed in
    orders.click("#logout-form button")
    orders.goto(f"{ADMIN}/orders/")
    assert "/admin/orders/login/" in orders.url
    catalog.goto(f"{ADMIN}/catalog/")
    _signed_in(catalog, "catalog")

    # The staff accounts in catalog are copies of users': shown, never edited there
    catalog.goto(f"{ADMIN}/catalog/auth/user/")
    expect(catalog.locator("#result_list")).to_contain_text(STAFF_USERNAME)
    expect(catalog.locator(".object-tools a.addlink")).to_have_count(0)  # no "Add user"
    catalog.locator("#result_list").get_by_role("link", name=STAFF_USERNAME, exact=True).click()
    expect(catalog.locator("input[name=_save]")).to_have_count(0)
    expect(catalog.locator("input[name=username]")).to_have_count(0)
    assert catalog.goto(f"{ADMIN}/catalog/auth/user/add/").status == 403

    # A hand-off link taken out of this browser (as an attacker would) signs no one in elsewhere
    handoff = catalog.request.get(f"{ADMIN}/users/handoff/orders/", max_redirects=0)
    assert handoff.status == 302 and "/admin/orders/handoff/?token=" in handoff.headers["location"]
    victim = fresh_page()
    victim.goto(urljoin(f"{BASE_URL}/", handoff.headers["location"]))
    assert "/admin/orders/login/" in victim.url
    expect(victim.locator("#logout-form")).to_have_count(0)
    expect(victim.locator(".messagelist")).to_contain_text("This sign-in link is not valid")
