"""Signing in once for every admin (split shape): users is the identity provider for staff. A
staff member signed in to users' admin follows a link to another service's admin; users signs a
short-lived, single-use hand-off naming the person and the target service, and the target admin
signs that person in from its own replicated account. No password crosses, and each admin keeps
its own session (its own cookie), so signing out of one leaves the others alone.

A hand-off is bound to the browser that asked for it: users sets a random secret in a cookie only
the target's hand-off path receives, and the token carries its hash. A token taken out of one
browser (say, an attacker's own) and opened in another signs no one in there (no login CSRF)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme

from apps.core.adminsite import service_admin_url
from apps.core.exceptions import ApplicationError
from config.services import SERVICES

SALT = "shopstack.staff-handoff"
# The browser's half of a hand-off; set by users for the target admin's hand-off path only.
BROWSER_COOKIE = "staff_handoff"


class HandoffRefused(ApplicationError):
    status_code = 403
    default_code = "staff_handoff_refused"
    default_detail = "This sign-in link is not valid (expired, used, or for another admin): sign in here instead."


def _key() -> str:
    # The same key in every service: a dedicated one, or else the shared SECRET_KEY.
    return settings.STAFF_HANDOFF_KEY or settings.SECRET_KEY


def _digest(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


def staff_handoff_issue(*, user: Any, service: str, browser: str) -> str:
    """A signed hand-off for `user` (active staff signed in to users) into `service`'s admin,
    redeemable only with `browser`, the secret the asking browser keeps in its hand-off cookie
    (the token carries its hash, so the token alone is not enough)."""
    if service not in SERVICES or service == "users":
        raise HandoffRefused("There is no such admin to sign in to.")
    if not (user.is_active and user.is_staff):
        raise HandoffRefused("Only active staff can sign in to the admins.")
    payload = {"u": user.get_username(), "s": service, "n": secrets.token_urlsafe(16), "b": _digest(browser)}
    return signing.dumps(payload, key=_key(), salt=SALT)


def staff_handoff_redeem(*, token: str, service: str, browser: str) -> Any:
    """The local staff account a hand-off names, once: refused when expired (older than
    STAFF_HANDOFF_MAX_AGE seconds), tampered with, meant for another service, opened in another
    browser than the one it was issued to (`browser` is this browser's hand-off cookie), already
    used, or naming someone who is not (or no longer) active staff here."""
    try:
        payload = signing.loads(token, key=_key(), salt=SALT, max_age=settings.STAFF_HANDOFF_MAX_AGE)
    except signing.BadSignature:
        raise HandoffRefused() from None
    if payload.get("s") != service:
        raise HandoffRefused()
    if not browser or not hmac.compare_digest(str(payload.get("b", "")), _digest(browser)):
        raise HandoffRefused()
    # Single use: the nonce is remembered for as long as the token could be valid.
    if not cache.add(f"staff-handoff:{payload['n']}", 1, timeout=settings.STAFF_HANDOFF_MAX_AGE + 1):
        raise HandoffRefused()
    user = auth.get_user_model().objects.filter(username=payload.get("u"), is_active=True, is_staff=True).first()
    if user is None:
        raise HandoffRefused()
    return user


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@staff_member_required
def handoff_start(request: HttpRequest, service: str) -> HttpResponse:
    """In users' admin: sign the hand-off and send the browser to `service`'s admin with it, and
    give this browser the hand-off's secret in a cookie for that admin's hand-off path only."""
    browser = secrets.token_urlsafe(32)
    try:
        token = staff_handoff_issue(user=request.user, service=service, browser=browser)
    except HandoffRefused as error:
        messages.error(request, str(error.detail))
        return HttpResponseRedirect(f"/{settings.ADMIN_URL}")
    finish = service_admin_url(service, "handoff/")
    query = urlencode({"token": token, "next": _safe_next(request, service_admin_url(service, ""))})
    response = HttpResponseRedirect(f"{finish}?{query}")
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=settings.STAFF_HANDOFF_MAX_AGE,
        path=finish,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def handoff_finish(request: HttpRequest) -> HttpResponse:
    """In another service's admin: redeem the hand-off and sign the person in here; a refused
    one leads to this admin's own sign-in page (which works while users is down)."""
    target = _safe_next(request, f"/{settings.ADMIN_URL}")
    try:
        user = staff_handoff_redeem(
            token=request.GET.get("token", ""),
            service=settings.SERVICE,
            browser=request.COOKIES.get(BROWSER_COOKIE, ""),
        )
    except HandoffRefused as error:
        messages.error(request, str(error.detail))
        response = HttpResponseRedirect(f"/{settings.ADMIN_URL}login/?{urlencode({'next': target})}")
    else:
        auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        response = HttpResponseRedirect(target)
    response.delete_cookie(BROWSER_COOKIE, path=request.path, samesite="Lax")
    return response


def staff_handoff_urls() -> list:
    """The hand-off's URLs for this process (split shape only): issuing in users, redeeming elsewhere."""
    if settings.ALL_IN_ONE:
        return []
    if settings.SERVICE == "users":
        return [path(f"{settings.ADMIN_URL}handoff/<str:service>/", handoff_start, name="staff-handoff-start")]
    return [path(f"{settings.ADMIN_URL}handoff/", handoff_finish, name="staff-handoff-finish")]
