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
| `tok_3ds_required` | needs 3-D Secure; authenticated at the sandbox's bank page, then charged (visa •••• 3184) |
| `tok_3ds_fail` | needs 3-D Secure; the authentication fails (`payment_intent_authentication_failure`) |

(N is PAYMENTS_SANDBOX_TRANSIENT_FAILURES, 2 by default.)

3-D Secure: the charge answers ActionRequired with a redirect to the sandbox's bank page
(/api/v1/payments/sandbox/authenticate/, served only while the sandbox is the provider), which
settles the authentication at once and sends the shopper on to the return URL with the
parameters Stripe adds (`payment_intent`, `payment_intent_client_secret`, `redirect_status`).

Idempotency keys are honoured as a real provider does: a key replays its first outcome (the same
charge, or the same decline) and never charges twice; reusing a key with a different amount or
currency is an error. The count of simulated outages is kept per key in SandboxCharge, so a retry
with the same key eventually succeeds. The tables are in the payments database and commit with
the caller's transaction (see models.py); the services commit every provider outcome."""

from __future__ import annotations

import secrets
import urllib.parse
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from apps.core.db import atomic
from apps.payments.models import SandboxCharge, SandboxRefund
from apps.payments.providers.base import (
    ActionRequired,
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
}
DECLINING_TOKENS = {
    "tok_decline": "card_declined",
    "tok_insufficient_funds": "insufficient_funds",
}
TRANSIENT_TOKEN = "tok_transient"
# token -> what the bank answers to the shopper's authentication: charged, or a decline code.
AUTHENTICATION_FAILED = "payment_intent_authentication_failure"
AUTHENTICATING_TOKENS = {"tok_3ds_required": "succeeded", "tok_3ds_fail": AUTHENTICATION_FAILED}
AUTHENTICATED_CARD = ("visa", "3184")


def _new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(12)}"


def _charge_result(charge: SandboxCharge) -> ChargeResult:
    return ChargeResult(
        charge_id=charge.charge_id,
        amount=charge.amount,
        currency=charge.currency,
        card_brand=charge.card_brand,
        card_last4=charge.card_last4,
    )


def _action(charge: SandboxCharge) -> ActionRequired:
    page = urllib.parse.urljoin(charge.return_url, reverse("payments:sandbox-authenticate"))
    query = urllib.parse.urlencode({"payment_intent": charge.charge_id, "client_secret": charge.client_secret})
    return ActionRequired(
        intent_id=charge.charge_id,
        client_secret=charge.client_secret,
        next_action_type="redirect_to_url",
        redirect_url=f"{page}?{query}",
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
        return_url: str = "",
        reference: str = "",
    ) -> ChargeResult | ActionRequired:
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
            outcome = self._decide(charge, payment_method_token, return_url)
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def _decide(
        self, charge: SandboxCharge, token: str, return_url: str
    ) -> ChargeResult | ActionRequired | ProviderError:
        if charge.outcome != SandboxCharge.Outcome.PENDING:
            return self._state(charge)
        if token in AUTHENTICATING_TOKENS:
            if not return_url:
                # Without the shopper (no return URL) the bank cannot ask: Stripe's off-session answer.
                charge.decline_code = "authentication_required"
                charge.outcome = SandboxCharge.Outcome.DECLINED
                charge.save(update_fields=["decline_code", "outcome"])
                return PaymentDeclined(charge.decline_code)
            charge.client_secret = f"{charge.charge_id}_secret_{secrets.token_hex(12)}"
            charge.return_url = return_url
            charge.authentication_outcome = AUTHENTICATING_TOKENS[token]
            charge.outcome = SandboxCharge.Outcome.REQUIRES_ACTION
            charge.save(update_fields=["client_secret", "return_url", "authentication_outcome", "outcome"])
            return _action(charge)
        if token == TRANSIENT_TOKEN and charge.transient_failures < settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES:
            charge.transient_failures += 1
            charge.save(update_fields=["transient_failures"])
            return TransientProviderError("The sandbox simulated a provider outage.")
        if token in CHARGING_TOKENS:
            charge.card_brand, charge.card_last4 = CHARGING_TOKENS[token]
            charge.outcome = SandboxCharge.Outcome.SUCCEEDED
            charge.save(update_fields=["card_brand", "card_last4", "outcome"])
            return _charge_result(charge)
        charge.decline_code = DECLINING_TOKENS.get(token, "invalid_payment_method")
        charge.outcome = SandboxCharge.Outcome.DECLINED
        charge.save(update_fields=["decline_code", "outcome"])
        return PaymentDeclined(charge.decline_code)

    def _state(self, charge: SandboxCharge) -> ChargeResult | ActionRequired | ProviderError:
        if charge.outcome == SandboxCharge.Outcome.SUCCEEDED:
            return _charge_result(charge)
        if charge.outcome == SandboxCharge.Outcome.REQUIRES_ACTION:
            return _action(charge)
        if charge.outcome == SandboxCharge.Outcome.CANCELED:
            return PaymentDeclined("canceled", "The payment was cancelled.")
        return PaymentDeclined(charge.decline_code)

    def charge_status(self, *, intent_id: str, currency: str) -> ChargeResult | ActionRequired:
        charge = SandboxCharge.objects.filter(charge_id=intent_id).first()
        if charge is None:
            raise ProviderError("No such charge.", code="resource_missing")
        outcome = self._state(charge)
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def abandon(self, *, intent_id: str) -> None:
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(charge_id=intent_id).first()
            if charge is None:
                raise ProviderError("No such charge.", code="resource_missing")
            if charge.outcome == SandboxCharge.Outcome.SUCCEEDED:
                raise ProviderError("A succeeded charge cannot be cancelled.", code="payment_intent_unexpected_state")
            if charge.outcome != SandboxCharge.Outcome.CANCELED:
                charge.outcome = SandboxCharge.Outcome.CANCELED
                charge.save(update_fields=["outcome"])

    def authenticate(self, *, intent_id: str, client_secret: str) -> str | None:
        """The sandbox bank's answer to the shopper (its 3-D Secure page): the charge goes through
        or fails as its token said, once. Returns where to send the shopper (the return URL with
        Stripe's parameters), or None for an unknown charge or a wrong secret."""
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(charge_id=intent_id).first()
            if (
                charge is None
                or not charge.client_secret
                or not secrets.compare_digest(charge.client_secret, client_secret)
            ):
                return None
            if charge.outcome == SandboxCharge.Outcome.REQUIRES_ACTION:
                if charge.authentication_outcome == "succeeded":
                    charge.card_brand, charge.card_last4 = AUTHENTICATED_CARD
                    charge.outcome = SandboxCharge.Outcome.SUCCEEDED
                else:
                    charge.decline_code = charge.authentication_outcome
                    charge.outcome = SandboxCharge.Outcome.DECLINED
                charge.save(update_fields=["card_brand", "card_last4", "decline_code", "outcome"])
            status = "succeeded" if charge.outcome == SandboxCharge.Outcome.SUCCEEDED else "failed"
        query = urllib.parse.urlencode(
            {
                "payment_intent": charge.charge_id,
                "payment_intent_client_secret": client_secret,
                "redirect_status": status,
            }
        )
        separator = "&" if "?" in charge.return_url else "?"
        return f"{charge.return_url}{separator}{query}"

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
            if amount <= 0 or amount > charge.amount - charge.amount_refunded:
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
