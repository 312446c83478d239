"""Throttling: DRF's scoped throttle, with rates per scope from REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES, keyed by the client address of apps.core.client_address (never a header
value the client chose) or, for a signed-in caller, by their account. A view sets
`throttle_classes` and a `throttle_scope`; AccountRateThrottle adds a per-account budget."""

from __future__ import annotations

import hashlib

from rest_framework import throttling
from rest_framework.settings import api_settings

from apps.core.client_address import client_address


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, reading the rates per request (DRF's own copies them into a class
    attribute at import, so a changed setting or a test's override would never apply), and
    telling clients apart by their trusted address (DRF's own trusts X-Forwarded-For as sent)."""

    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()

    def get_ident(self, request) -> str:
        return client_address(request)


class AccountRateThrottle(ScopedRateThrottle):
    """The `<throttle_scope>_account` budget of one account, whatever address asks: the signed-in
    caller, or else the email in the body (`view.throttle_account_field`). Keyed by the email
    whether or not an account has it, so a 429 tells nothing about which accounts exist."""

    def allow_request(self, request, view) -> bool:
        self.account = self._account(request, view)
        if self.account is None:
            return True  # no account named: the input is invalid and the view answers 400
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:
        self.scope = f"{self.scope}_account"
        return super().get_rate()

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.account}

    @staticmethod
    def _account(request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return str(request.user.pk)
        field = getattr(view, "throttle_account_field", "email")
        value = request.data.get(field) if hasattr(request.data, "get") else None
        if not isinstance(value, str) or not value.strip():
            return None
        return hashlib.sha256(value.strip().lower().encode()).hexdigest()
