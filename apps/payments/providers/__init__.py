"""Card provider adapters, selected by settings.PAYMENTS_PROVIDER: `sandbox` (sandbox.py, moves no
money), `stripe` (stripe.py, Stripe's PaymentIntents through its official SDK), or the dotted path
of another class meeting `PaymentProvider` (base.py), the only thing the service depends on."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from apps.payments.providers.base import (
    ActionRequired,
    AuthorizationExpired,
    CaptureResult,
    ChargeResult,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    RefundResult,
    TransientProviderError,
    looks_like_card_number,
)

__all__ = [
    "ActionRequired",
    "AuthorizationExpired",
    "CaptureResult",
    "ChargeResult",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderError",
    "RefundResult",
    "TransientProviderError",
    "get_provider",
    "looks_like_card_number",
]


PROVIDERS = {
    "sandbox": "apps.payments.providers.sandbox.SandboxProvider",
    "stripe": "apps.payments.providers.stripe.StripeProvider",
}


@cache
def _provider(dotted_path: str) -> PaymentProvider:
    return import_string(PROVIDERS.get(dotted_path, dotted_path))()


def get_provider() -> PaymentProvider:
    """The configured provider (one instance per process and setting)."""
    return _provider(settings.PAYMENTS_PROVIDER)
