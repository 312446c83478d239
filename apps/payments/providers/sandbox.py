"""The sandbox card provider: moves no money, behaves like a real provider for the test tokens
below, and keeps its books in its own tables (SandboxCharge, SandboxRefund).

Test tokens (anything else is declined as `invalid_payment_method`):

| token | result |
| --- | --- |
| `tok_success`, `tok_visa` | charged (visa •••• 4242) |
| `tok_mastercard` | charged (mastercard •••• 4444) |
| `tok_decline` | declined, `card_declined` |
| `tok_insufficient_funds` | declined, `insufficient_funds` |
| `tok_transient` | `TransientProviderError` for the first N calls per idempotency key, then charged |
| `tok_capture_fails` | authorized (charged at once when captured with the charge); its capture is refused |

(N is PAYMENTS_SANDBOX_TRANSIENT_FAILURES, 2 by default.)

Authorize now, capture later: charge(capture=False) only authorizes; capture() takes at most the
authorized amount once (the rest is released), cancel_authorization() lets it go. An
authorization older than PAYMENTS_AUTHORIZATION_VALID_DAYS (7, as Stripe's card authorizations)
has expired: its capture raises AuthorizationExpired.

Idempotency keys are honoured as a real provider does: a key replays its first outcome (the same
charge, or the same decline) and never charges twice; reusing a key with a different amount or
currency is an error. The count of simulated outages is kept per key in SandboxCharge, so a retry
with the same key eventually succeeds. The tables are in the payments database and commit with
the caller's transaction (see models.py); the services commit every provider outcome."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from apps.core.db import atomic
from apps.payments.models import SandboxCharge, SandboxRefund
from apps.payments.providers.base import (
    AuthorizationExpired,
    CaptureResult,
    ChargeResult,
    PaymentDeclined,
    ProviderError,
    RefundResult,
    TransientProviderError,
)

SERVICE = "payments"
# token -> (card brand, last four digits) for the tokens that charge.
CHARGING_TOKENS = {
    "tok_success": ("visa", "4242"),
    "tok_visa": ("visa", "4242"),
    "tok_mastercard": ("mastercard", "4444"),
    "tok_transient": ("visa", "4242"),
    "tok_capture_fails": ("visa", "0341"),
}
# Tokens whose authorization cannot be captured, and the provider's code for it.
CAPTURE_REFUSING_TOKENS = {"tok_capture_fails": "capture_declined"}
DECLINING_TOKENS = {
    "tok_decline": "card_declined",
    "tok_insufficient_funds": "insufficient_funds",
}
TRANSIENT_TOKEN = "tok_transient"


def _new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(12)}"


def _charge_result(charge: SandboxCharge) -> ChargeResult:
    return ChargeResult(
        charge_id=charge.charge_id,
        amount=charge.amount,
        currency=charge.currency,
        card_brand=charge.card_brand,
        card_last4=charge.card_last4,
        captured=charge.outcome == SandboxCharge.Outcome.SUCCEEDED,
    )


class SandboxProvider:
    name = "sandbox"

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        payment_method_token: str,
        idempotency_key: str,
        capture: bool = True,
    ) -> ChargeResult:
        # The outcome is decided and recorded inside the savepoint, but raised only after it, so a
        # decline or a simulated outage stays on the books (a raise inside would roll it back).
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(idempotency_key=idempotency_key).first()
            if charge is None:
                charge = SandboxCharge.objects.create(
                    charge_id=_new_id("ch"), idempotency_key=idempotency_key, amount=amount, currency=currency
                )
            elif (charge.amount, charge.currency) != (amount, currency):
                raise ProviderError(
                    "This idempotency key was used with a different amount or currency.", code="idempotency_conflict"
                )
            outcome = self._decide(charge, payment_method_token, capture=capture)
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def _decide(self, charge: SandboxCharge, token: str, *, capture: bool) -> ChargeResult | ProviderError:
        if charge.outcome in (
            SandboxCharge.Outcome.SUCCEEDED,
            SandboxCharge.Outcome.AUTHORIZED,
            SandboxCharge.Outcome.CANCELED,
        ):
            return _charge_result(charge)
        if charge.outcome == SandboxCharge.Outcome.DECLINED:
            return PaymentDeclined(charge.decline_code)
        if token == TRANSIENT_TOKEN and charge.transient_failures < settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES:
            charge.transient_failures += 1
            charge.save(update_fields=["transient_failures"])
            return TransientProviderError("The sandbox simulated a provider outage.")
        if token in CHARGING_TOKENS:
            charge.card_brand, charge.card_last4 = CHARGING_TOKENS[token]
            charge.outcome = SandboxCharge.Outcome.SUCCEEDED if capture else SandboxCharge.Outcome.AUTHORIZED
            charge.decline_code = "" if capture else CAPTURE_REFUSING_TOKENS.get(token, "")
            charge.save(update_fields=["card_brand", "card_last4", "outcome", "decline_code"])
            return _charge_result(charge)
        charge.decline_code = DECLINING_TOKENS.get(token, "invalid_payment_method")
        charge.outcome = SandboxCharge.Outcome.DECLINED
        charge.save(update_fields=["decline_code", "outcome"])
        return PaymentDeclined(charge.decline_code)

    def refund(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> RefundResult:
        with atomic(SERVICE):
            existing = SandboxRefund.objects.select_related("charge").filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                if (existing.charge.charge_id, existing.amount, existing.currency) != (charge_id, amount, currency):
                    raise ProviderError(
                        "This idempotency key was used with different parameters.", code="idempotency_conflict"
                    )
                return RefundResult(
                    refund_id=existing.refund_id, charge_id=charge_id, amount=existing.amount, currency=currency
                )
            charge = (
                SandboxCharge.objects.select_for_update()
                .filter(charge_id=charge_id, outcome=SandboxCharge.Outcome.SUCCEEDED)
                .first()
            )
            if charge is None:
                raise ProviderError("No such charge.", code="charge_not_found")
            if currency != charge.currency:
                raise ProviderError("The currency differs from the charge's.", code="currency_mismatch")
            if amount <= 0 or amount > charge.captured - charge.amount_refunded:
                raise ProviderError("The amount exceeds what is left to refund.", code="amount_too_large")
            refund = SandboxRefund.objects.create(
                refund_id=_new_id("re"),
                idempotency_key=idempotency_key,
                charge=charge,
                amount=amount,
                currency=currency,
            )
            charge.amount_refunded += amount
            charge.save(update_fields=["amount_refunded"])
            return RefundResult(refund_id=refund.refund_id, charge_id=charge_id, amount=amount, currency=currency)

    def capture(self, *, charge_id: str, amount: Decimal, currency: str, idempotency_key: str) -> CaptureResult:
        # As charge(): an expiry found here is recorded before it is raised.
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(charge_id=charge_id).first()
            if charge is None:
                raise ProviderError("No such charge.", code="charge_not_found")
            outcome = self._capture(charge, amount=amount, currency=currency, key=idempotency_key)
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def _capture(
        self, charge: SandboxCharge, *, amount: Decimal, currency: str, key: str
    ) -> CaptureResult | ProviderError:
        if charge.outcome == SandboxCharge.Outcome.SUCCEEDED and charge.amount_captured is not None:
            if charge.capture_key == key:
                return CaptureResult(
                    charge_id=charge.charge_id, amount=charge.amount_captured, currency=charge.currency
                )
            return ProviderError("This charge was already captured.", code="already_captured")
        if charge.outcome == SandboxCharge.Outcome.AUTHORIZED:
            expiry = charge.created_at + timedelta(days=settings.PAYMENTS_AUTHORIZATION_VALID_DAYS)
            if timezone.now() >= expiry:
                charge.outcome = SandboxCharge.Outcome.CANCELED
                charge.save(update_fields=["outcome"])
        if charge.outcome == SandboxCharge.Outcome.CANCELED:
            return AuthorizationExpired("The authorization expired or was cancelled; nothing can be captured.")
        if charge.outcome != SandboxCharge.Outcome.AUTHORIZED:
            return ProviderError("The charge holds no authorization.", code="charge_not_capturable")
        if currency != charge.currency or amount <= 0 or amount > charge.amount:
            return ProviderError("The amount exceeds the authorization.", code="amount_too_large")
        if charge.decline_code:
            return ProviderError("The card issuer refused the capture.", code=charge.decline_code)
        charge.outcome = SandboxCharge.Outcome.SUCCEEDED
        charge.amount_captured = amount
        charge.capture_key = key
        charge.save(update_fields=["outcome", "amount_captured", "capture_key"])
        return CaptureResult(charge_id=charge.charge_id, amount=amount, currency=charge.currency)

    def cancel_authorization(self, *, charge_id: str, idempotency_key: str) -> None:
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(charge_id=charge_id).first()
            if charge is None:
                raise ProviderError("No such charge.", code="charge_not_found")
            if charge.outcome == SandboxCharge.Outcome.SUCCEEDED:
                raise ProviderError("The charge was captured; refund it instead.", code="already_captured")
            if charge.outcome == SandboxCharge.Outcome.AUTHORIZED:
                charge.outcome = SandboxCharge.Outcome.CANCELED
                charge.save(update_fields=["outcome"])
