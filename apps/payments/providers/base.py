"""The card provider interface the payments service talks to, and its errors.

A provider charges an opaque payment method token (made by the provider's client-side library in
the shopper's browser, so a card number never reaches ShopStack) and refunds a charge. Both calls
take an idempotency key: the same key returns the same result and never moves money twice, which
is what makes retrying a charge after a timeout or a redelivered event safe.

The charge is made with the shopper present: when the card's bank wants the shopper to
authenticate (3-D Secure), the answer is ActionRequired instead of a charge, and the outcome is
read later with charge_status (after the shopper's return, or when a webhook says so). An attempt
the shopper gives up for another method is cancelled, so it can never be completed afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from apps.core.cards import has_card_number_shape


class ProviderError(Exception):
    """The provider refused the call for a reason retrying will not fix."""

    default_code = "provider_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        self.code = code or self.default_code
        self.message = message or self.code.replace("_", " ").capitalize() + "."
        super().__init__(self.message)


class PaymentDeclined(ProviderError):
    """The card was declined; `code` says why (card_declined, insufficient_funds, ...)."""

    default_code = "card_declined"

    def __init__(self, code: str = "card_declined", message: str = "") -> None:
        super().__init__(message, code=code)


class TransientProviderError(ProviderError):
    """The provider could not be reached or answered with a temporary error: retry the call with
    the same idempotency key."""

    default_code = "provider_unavailable"


@dataclass(frozen=True)
class ChargeResult:
    charge_id: str
    amount: Decimal
    currency: str
    card_brand: str = ""
    card_last4: str = ""
    # False: the amount is only authorized (charge(capture=False)); capture() takes it later.
    captured: bool = True


@dataclass(frozen=True)
class ActionRequired:
    """The provider needs the shopper before it takes the money. `intent_id` names the provider's
    object (charge_status, cancel); the client completes the action with `client_secret` or by
    sending the browser to `redirect_url`, and the provider sends it back to the return URL."""

    intent_id: str
    client_secret: str
    next_action_type: str
    redirect_url: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    charge_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class CaptureResult:
    charge_id: str
    amount: Decimal  # what was taken; the rest of the authorization is released
    currency: str


class AuthorizationExpired(ProviderError):
    """The authorization is gone (expired, or cancelled at the provider): nothing can be captured."""

    default_code = "authorization_expired"


@runtime_checkable
class PaymentProvider(Protocol):
    """What the payments service needs from a card provider.

    `name` is recorded on every intent and charge and names the webhook URL
    (/api/v1/payments/webhooks/<name>/)."""

    name: str

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_token: str,
        idempotency_key: str,
        capture: bool = True,
        return_url: str = "",
        reference: str = "",
    ) -> ChargeResult | ActionRequired:
        """Create and confirm a payment with the shopper present; `return_url` is where the
        provider sends the shopper after an action, `reference` payments' own id (metadata).
        A decline raises PaymentDeclined."""
        ...

    def charge_status(self, *, intent_id: str, currency: str) -> ChargeResult | ActionRequired:
        """Where a payment stands at the provider now. A failed one (declined, authentication
        failed, cancelled) raises PaymentDeclined with the provider's code."""
        ...

    def cancel(self, *, charge_id: str, idempotency_key: str = "") -> None:
        """Cancel a payment so nobody can complete or capture it any more: an attempt the shopper
        left unfinished (3-D Secure), or an authorization let go (capture at shipment). One
        already cancelled is done. `idempotency_key` names the request it serves (a release);
        without one the cancellation is keyed by the payment itself (an attempt is abandoned
        once). Raises ProviderError when it cannot be cancelled (it was paid or captured
        meanwhile: read charge_status)."""
        ...

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> RefundResult: ...

    # Authorize now, capture later: a charge made with capture=False is taken by one capture (of
    # at most its amount; the rest is released) or let go by cancel. A capture answered again
    # with the same key returns the first result.
    def capture(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> CaptureResult: ...


def looks_like_card_number(value: str) -> bool:
    """True for anything holding a card-number-shaped run (apps.core.cards): such a value is
    refused, never passed on, logged or stored (tokens from a provider never look like this)."""
    return has_card_number_shape(value)
