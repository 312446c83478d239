"""The Stripe card provider, on Stripe's official SDK: a charge is a PaymentIntent confirmed with
the shopper's payment method and present (a return URL, so 3-D Secure can ask the shopper), a
refund a Refund of that PaymentIntent.

Every call that moves money carries an idempotency key (the order's key for a charge, the refund's
id for a refund), so a retry after a timeout replays Stripe's first answer and never charges or
refunds twice; the SDK's own network retries are off, the payments tasks retry with the same key.
The API version is pinned here, not taken from the account's default, so a Stripe upgrade
cannot change the shapes this adapter reads. STRIPE_API_BASE points the SDK at another server
(localstripe in the tests and the local stack)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from apps.core.currencies import minor_unit
from apps.payments.errors import WebhookPayloadInvalid, WebhookSignatureInvalid
from apps.payments.providers.base import (
    ActionRequired,
    AuthorizationExpired,
    CaptureResult,
    ChargeResult,
    PaymentDeclined,
    ProviderError,
    RefundResult,
    TransientProviderError,
)

# The Stripe API version this adapter is written against (the SDK's own, stripe==16.1.0).
API_VERSION = "2026-10-28.endive"
SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's code for a card that needs the shopper to authenticate (3-D Secure).
AUTHENTICATION_REQUIRED = "authentication_required"


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Stripe's integer amount in the currency's smallest unit (cents for EUR, yen for JPY)."""
    units = amount / minor_unit(currency)
    if units != units.to_integral_value():
        raise ProviderError("The amount has more decimals than the currency allows.", code="amount_invalid")
    return int(units)


def from_minor_units(value: int, currency: str) -> Decimal:
    return (Decimal(value) * minor_unit(currency)).quantize(minor_unit(currency))


def decline_code(code: str, error: dict[str, Any] | None) -> str:
    """The most telling code of a decline: Stripe says `card_declined` with the reason in
    `decline_code` (insufficient_funds, lost_card, ...)."""
    detail = str((error or {}).get("decline_code") or "")
    if code in ("", "card_declined") and detail and detail != "generic_decline":
        return detail[:50]
    return (code or "card_declined")[:50]


def _mapped(error: stripe.StripeError) -> ProviderError:
    """Stripe's errors as the provider interface's: a card error is a decline with Stripe's code,
    a network, rate-limit or server error is transient (retry with the same key), anything else
    (a bad request, an idempotency conflict, bad credentials) is final."""
    code = str(getattr(error, "code", "") or "")
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(decline_code(code, (error.json_body or {}).get("error")), error.user_message or "")
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError)):
        return TransientProviderError(str(error.user_message or type(error).__name__))
    if isinstance(error, stripe.IdempotencyError):
        return ProviderError("This idempotency key was used with other parameters.", code="idempotency_conflict")
    status = getattr(error, "http_status", None) or 0
    if status >= 500 or status == 409:
        # 409: a concurrent request with the same key is still running at Stripe.
        return TransientProviderError(str(error.user_message or type(error).__name__))
    if status == 402:
        return PaymentDeclined(code or "card_declined", error.user_message or "")
    if status == 404 or code == "resource_missing":
        return ProviderError("Stripe does not know this object.", code="resource_missing")
    return ProviderError(str(error.user_message or "Stripe refused the request."), code=code or "provider_error")


@functools.lru_cache(maxsize=4)
def _client(secret_key: str, base: str, timeout: float) -> stripe.StripeClient:
    """One client per process and settings, so its HTTPS connection is kept alive between calls
    (stripe's RequestsClient holds a session per thread) instead of a TCP and TLS handshake per
    charge. A connection Stripe dropped while idle is replaced by the pool; one dropped mid-call
    is a transient error, retried with the same idempotency key."""
    return stripe.StripeClient(
        secret_key,
        stripe_version=API_VERSION,
        base_addresses={"api": base} if base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


class StripeProvider:
    name = "stripe"

    def client(self) -> stripe.StripeClient:
        """The client for the current settings (read when used, never at import time)."""
        return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_SECONDS)

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
        metadata = {"shopstack_idempotency_key": idempotency_key}
        if reference:
            metadata["shopstack_payment_id"] = reference
        params: dict[str, Any] = {
            "amount": to_minor_units(amount, currency),
            "currency": currency.lower(),
            "payment_method": payment_method_token,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": metadata,
        }
        if not capture:
            # Authorize only: the PaymentIntent waits in requires_capture until capture().
            params["capture_method"] = "manual"
        if return_url:
            # The shopper is present: a card that needs 3-D Secure answers requires_action with a
            # redirect (the bank's page), which sends the shopper back to return_url.
            params["return_url"] = return_url
        else:
            # Without the shopper Stripe answers such a card with authentication_required.
            params["off_session"] = True
        try:
            intent = self.client().v1.payment_intents.create(
                params=params, options={"idempotency_key": f"charge:{idempotency_key}"}
            )
        except stripe.StripeError as error:
            mapped = _mapped(error)
            if mapped.code == "resource_missing":
                # The payment method is the only object a new PaymentIntent names.
                raise PaymentDeclined("invalid_payment_method", "No such payment method.") from None
            raise mapped from None
        outcome = self._charge_result(intent.to_dict(), currency)
        if isinstance(outcome, ActionRequired) and not return_url:
            # Off-session Stripe declines such a card; a stand-in server that waits instead is
            # read the same way.
            raise PaymentDeclined(AUTHENTICATION_REQUIRED, "The card needs the shopper to authenticate the payment.")
        return outcome

    def charge_status(self, *, intent_id: str, currency: str) -> ChargeResult | ActionRequired:
        try:
            intent = self.client().v1.payment_intents.retrieve(intent_id)
        except stripe.StripeError as error:
            raise _mapped(error) from None
        return self._charge_result(intent.to_dict(), currency)

    def _charge_result(self, intent: dict[str, Any], currency: str) -> ChargeResult | ActionRequired:
        status = intent.get("status")
        if status == "requires_action":
            return action_of(intent)
        if status == "processing":
            raise TransientProviderError("Stripe is still processing the payment.")
        if status == "canceled":
            raise PaymentDeclined("canceled", "The payment was cancelled.")
        if status not in ("succeeded", "requires_capture"):
            error = intent.get("last_payment_error") or {}
            raise PaymentDeclined(decline_code(str(error.get("code") or ""), error), str(error.get("message") or ""))
        card = self._card(intent)
        return ChargeResult(
            charge_id=intent["id"],
            amount=from_minor_units(intent["amount"], currency),
            currency=currency,
            card_brand=str(card.get("brand") or ""),
            card_last4=str(card.get("last4") or ""),
            captured=status == "succeeded",
        )

    def _card(self, intent: dict[str, Any]) -> dict[str, Any]:
        """The card's brand and last four digits (never more), from the PaymentMethod."""
        method = intent.get("payment_method")
        if not method:
            return {}
        if isinstance(method, str):
            try:
                method = self.client().v1.payment_methods.retrieve(method).to_dict()
            except stripe.StripeError:
                return {}  # the charge stands; the card's label is cosmetic
        card = method.get("card") or {}
        return {"brand": card.get("brand"), "last4": card.get("last4")}

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> RefundResult:
        # charge_id is the PaymentIntent's id (what charge() returned).
        params = {
            "payment_intent": charge_id,
            "amount": to_minor_units(amount, currency),
            "metadata": {"shopstack_refund_id": idempotency_key},
        }
        try:
            refund = self.client().v1.refunds.create(
                params=params, options={"idempotency_key": f"refund:{idempotency_key}"}
            )
        except stripe.StripeError as error:
            raise _mapped(error) from None
        if refund.status == "failed":
            raise ProviderError("Stripe could not make the refund.", code="refund_failed")
        refunded = from_minor_units(refund.amount, currency)
        if refunded != amount or str(refund.currency).upper() != currency:
            raise ProviderError("Stripe refunded another amount or currency.", code="refund_mismatch")
        return RefundResult(refund_id=refund.id, charge_id=charge_id, amount=refunded, currency=currency)

    def capture(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> CaptureResult:
        """One capture of the PaymentIntent (`charge_id`), of `amount`; Stripe releases the rest.
        An authorization that expired (Stripe cancels it after 7 days) raises AuthorizationExpired."""
        params = {"amount_to_capture": to_minor_units(amount, currency)}
        try:
            intent = self.client().v1.payment_intents.capture(
                charge_id, params=params, options={"idempotency_key": f"capture:{idempotency_key}"}
            )
        except stripe.StripeError as error:
            mapped = _mapped(error)
            if not isinstance(mapped, TransientProviderError) and self._status(charge_id) == "canceled":
                raise AuthorizationExpired("Stripe cancelled the authorization; nothing was captured.") from None
            raise mapped from None
        if intent.status != "succeeded":
            raise ProviderError(f"Stripe left the payment {intent.status} after the capture.", code="capture_failed")
        return CaptureResult(
            charge_id=charge_id, amount=from_minor_units(intent.amount_received, currency), currency=currency
        )

    def cancel(self, *, charge_id: str, idempotency_key: str = "") -> None:
        """Cancel the PaymentIntent (`charge_id`): an unfinished attempt, or an authorization let
        go. One already cancelled (abandoned or released before, or expired) is done; Stripe
        refuses to cancel a succeeded one."""
        key = f"cancel:{idempotency_key}" if idempotency_key else f"abandon:{charge_id}"
        try:
            self.client().v1.payment_intents.cancel(charge_id, options={"idempotency_key": key})
        except stripe.StripeError as error:
            mapped = _mapped(error)
            if isinstance(mapped, TransientProviderError) or self._status(charge_id) != "canceled":
                raise mapped from None

    def _status(self, payment_intent_id: str) -> str:
        """The PaymentIntent's status, or "" when Stripe cannot say."""
        try:
            return str(self.client().v1.payment_intents.retrieve(payment_intent_id).status or "")
        except stripe.StripeError:
            return ""

    def payments_since(self, *, created_gte: int) -> Iterator[ProviderPayment]:
        """Every PaymentIntent created at or after `created_gte` (unix seconds), all pages."""
        try:
            page = self.client().v1.payment_intents.list(params={"created": {"gte": created_gte}, "limit": 100})
            for item in page.auto_paging_iter():
                intent = item.to_dict()
                error = intent.get("last_payment_error") or {}
                yield ProviderPayment(
                    payment_intent_id=intent["id"],
                    status=str(intent.get("status") or ""),
                    amount=int(intent.get("amount_received") or intent.get("amount") or 0),
                    currency=str(intent.get("currency") or "").upper(),
                    created=int(intent.get("created") or 0),
                    own_key=str((intent.get("metadata") or {}).get("shopstack_idempotency_key") or ""),
                    failure_code=str(error.get("code") or ""),
                )
        except stripe.StripeError as error:
            raise _mapped(error) from None

    def refunded_since(self, *, created_gte: int) -> set[str]:
        """The PaymentIntents with a refund created at or after `created_gte`."""
        try:
            page = self.client().v1.refunds.list(params={"created": {"gte": created_gte}, "limit": 100})
            return {str(item.to_dict().get("payment_intent") or "") for item in page.auto_paging_iter()} - {""}
        except stripe.StripeError as error:
            raise _mapped(error) from None

    def refunds_of(self, *, charge_id: str, currency: str) -> list[ProviderRefund]:
        """Every refund Stripe holds for the PaymentIntent, with the key payments gave its own."""
        try:
            page = self.client().v1.refunds.list(params={"payment_intent": charge_id, "limit": 100})
        except stripe.StripeError as error:
            raise _mapped(error) from None
        refunds = []
        for refund in (item.to_dict() for item in page.data):
            if refund.get("status") not in ("succeeded", "pending"):
                continue
            refunds.append(
                ProviderRefund(
                    refund_id=refund["id"],
                    amount=from_minor_units(refund["amount"], currency),
                    currency=str(refund["currency"]).upper(),
                    own_key=str((refund.get("metadata") or {}).get("shopstack_refund_id") or ""),
                )
            )
        return refunds


def action_of(intent: dict[str, Any]) -> ActionRequired:
    """What the shopper's client needs to complete a PaymentIntent in requires_action."""
    next_action = intent.get("next_action") or {}
    kind = str(next_action.get("type") or "")
    redirect = next_action.get("redirect_to_url") or {}
    return ActionRequired(
        intent_id=intent["id"],
        client_secret=str(intent.get("client_secret") or ""),
        next_action_type=kind,
        redirect_url=str(redirect.get("url") or "") if kind == "redirect_to_url" else "",
    )


@dataclass(frozen=True)
class ProviderPayment:
    """A PaymentIntent as reconciliation reads it."""

    payment_intent_id: str
    status: str
    amount: int  # minor units, as Stripe reports them
    currency: str
    created: int
    own_key: str
    failure_code: str


@dataclass(frozen=True)
class ProviderRefund:
    refund_id: str
    amount: Decimal
    currency: str
    own_key: str


def webhook_event(*, body: bytes, header: str | None, secrets: list[str], tolerance_seconds: int) -> dict[str, Any]:
    """A Stripe event, verified with the SDK's own scheme (`Stripe-Signature`, HMAC-SHA256 of
    "<t>.<body>" under the endpoint's signing secret; any of `secrets`, while rotating)."""
    if not header:
        raise WebhookSignatureInvalid("The Stripe-Signature header is missing.")
    for secret in secrets:
        try:
            return stripe.Webhook.construct_event(body, header, secret, tolerance=tolerance_seconds).to_dict()
        except stripe.SignatureVerificationError:
            continue
        except ValueError:  # the signature held but the body is not an event
            raise WebhookPayloadInvalid("The body is not a Stripe event.") from None
    raise WebhookSignatureInvalid()
