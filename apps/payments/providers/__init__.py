"""Card provider adapters, selected by settings.PAYMENTS_PROVIDER (a dotted path).

The service depends only on `PaymentProvider` (base.py). The built-in `SandboxProvider` moves no
money; a real card provider plugs in as one more module here. A Stripe adapter, for example,
would implement:

- `name = "stripe"`;
- `charge()` as `stripe.PaymentIntent.create(amount=<minor units>, currency=..., payment_method=
  <token>, confirm=True, off_session=True, idempotency_key=<key>)`, returning the charge id and
  `payment_method_details.card.brand/last4`; `stripe.error.CardError` becomes
  `PaymentDeclined(error.code)` (card_declined, insufficient_funds, ...), and
  `APIConnectionError`, `RateLimitError` and 5xx `APIError` become `TransientProviderError`;
- `refund()` as `stripe.Refund.create(charge=..., amount=..., idempotency_key=<refund id>)`;
- webhooks: Stripe signs them with the same `t=<ts>,v1=<hmac>` scheme verified in
  apps.payments.webhooks (under the `Stripe-Signature` header and its own event shapes), so the
  adapter would map `charge.refunded` / `charge.failed` onto the handlers in
  services/provider_webhooks.py.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from apps.payments.providers.base import (
    ChargeResult,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    RefundResult,
    TransientProviderError,
    looks_like_card_number,
)

__all__ = [
    "ChargeResult",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderError",
    "RefundResult",
    "TransientProviderError",
    "get_provider",
    "looks_like_card_number",
]


@cache
def _provider(dotted_path: str) -> PaymentProvider:
    return import_string(dotted_path)()


def get_provider() -> PaymentProvider:
    """The configured provider (one instance per process and setting)."""
    return _provider(settings.PAYMENTS_PROVIDER)
