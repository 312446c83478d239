"""Every write a caller can make without an access token, and every password check, is throttled
by a scope with a configured rate: a new open endpoint cannot ship without one."""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.core.api.throttles import ScopedRateThrottle

WRITES = {"post", "put", "patch", "delete"}
# Signed-in views that check a password: throttled per account like the open ones.
PASSWORD_CHECKS = {"PasswordChangeView"}


def _views(patterns=None):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and issubclass(view, APIView):
                yield view


def test_every_open_write_and_password_check_has_a_throttle_scope_with_a_rate():
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    checked, missing = set(), []
    for view in set(_views()):
        open_write = AllowAny in view.permission_classes and WRITES & {name for name in dir(view) if name in WRITES}
        if not open_write and view.__name__ not in PASSWORD_CHECKS:
            continue
        checked.add(view.__name__)
        throttles = [throttle for throttle in view.throttle_classes if issubclass(throttle, ScopedRateThrottle)]
        scopes = {getattr(view, throttle.scope_attr, None) for throttle in throttles}
        if not throttles or None in scopes or not scopes <= set(rates):
            missing.append(view.__name__)

    assert missing == []
    # The sweep saw the endpoints it exists for (a broken URL walk would pass vacuously).
    assert {
        "LoginView",
        "RefreshView",
        "PasswordResetConfirmView",
        "CartLinesView",
        "WebhookView",
        "GuestCheckoutView",
        "EmailVerifyView",
    } <= checked
