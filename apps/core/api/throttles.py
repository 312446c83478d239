"""Throttling: DRF's scoped throttle, with rates per scope from REST_FRAMEWORK's
DEFAULT_THROTTLE_RATES. A view sets `throttle_classes = [ScopedRateThrottle]` and a `throttle_scope`."""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.settings import api_settings


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, reading the rates per request: DRF's own copies them into a class
    attribute at import, so a changed setting (or a test's override) would never apply."""

    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()
