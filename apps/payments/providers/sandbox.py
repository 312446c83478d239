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
| `tok_3ds_required` | needs 3-D Secure; authenticated at the sandbox's bank page, then charged (visa •••• 3184) |
| `tok_3ds_fail` | needs 3-D Secure; the authentication fails (`payment_intent_authentication_failure`) |

(N is PAYMENTS_SANDBOX_TRANSIENT_FAILURES, 2 by default.)

3-D Secure: the charge answers ActionRequired with a redirect to the sandbox's bank page
(/api/v1/payments/sandbox/authenticate/, served only while the sandbox is the provider), which
settles the authentication at once and sends the shopper on to the return URL with the
parameters Stripe adds (`payment_intent`, `payment_intent_client_secret`, `redirect_status`).

Authorize now, capture later: charge(capture=False) only authorizes; capture() takes at most the
authorized amount once (the rest is released), cancel() lets it go. An
authorization older than PAYMENTS_AUTHORIZATION_VALID_DAYS (7, as Stripe's card authorizations)
has expired: its capture raises AuthorizationExpired.

Idempotency keys are honoured as a real provider does: a key replays its first outcome (the same
charge, or the same decline) and never charges twice; reusing a key with a different amount or
currency is an error. The count of simulated outages is kept per key in SandboxCharge, so a retry
with the same key eventually succeeds. The tables are in the payments database and commit with
the caller's transaction (see models.py); the services commit every provider outcome."""

from __future__ import annotations

import secrets
import urllib.parse
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from apps.core.db import atomic
from apps.payments.models import SandboxCharge, SandboxRefund
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
# token -> what the bank answers to the shopper's authentication: charged, or a decline code.
AUTHENTICATION_FAILED = "payment_intent_authentication_failure"
AUTHENTICATING_TOKENS = {"tok_3ds_required": "succeeded", "tok_3ds_fail": AUTHENTICATION_FAILED}
AUTHENTICATED_CARD = ("visa", "3184")
# A 3-D Secure charge made with capture=False becomes an authorization once authenticated.
AUTHORIZED = "authorized"


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


def _action(charge: SandboxCharge) -> ActionRequired:
    page = urllib.parse.urljoin(charge.return_url, reverse("payments:sandbox-authenticate"))
    query = urllib.parse.urlencode({"payment_intent": charge.charge_id, "client_secret": charge.client_secret})
    return ActionRequired(
        intent_id=charge.charge_id,
        client_secret=charge.client_secret,
        next_action_type="redirect_to_url",
        redirect_url=f"{page}?{query}",
    )


def _record(charge: SandboxCharge, fields: list[str]) -> None:
    """Write what was decided: the whole row for a new charge, else the fields that changed."""
    if charge._state.adding:
        charge.save(force_insert=True)
    else:
        charge.save(update_fields=fields)


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
        return_url: str = "",
        reference: str = "",
    ) -> ChargeResult | ActionRequired:
        # The outcome is decided and recorded inside the transaction, but raised only after it, so
        # a decline or a simulated outage stays on the books. No savepoint: nothing is raised
        # inside (a raise there would doom the caller's transaction), and the caller holds the
        # payment's row lock, so no other call of the same key can race this one's INSERT.
        with atomic(SERVICE, savepoint=False):
            charge = SandboxCharge.objects.select_for_update().filter(idempotency_key=idempotency_key).first()
            if charge is None:
                # Decided first, then written once (an INSERT, not an INSERT and an UPDATE).
                charge = SandboxCharge(
                    charge_id=_new_id("ch"), idempotency_key=idempotency_key, amount=amount, currency=currency
                )
                outcome = self._decide(charge, payment_method_token, return_url, capture=capture)
            elif (charge.amount, charge.currency) != (amount, currency):
                outcome = ProviderError(
                    "This idempotency key was used with a different amount or currency.", code="idempotency_conflict"
                )
            else:
                outcome = self._decide(charge, payment_method_token, return_url, capture=capture)
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def _decide(
        self, charge: SandboxCharge, token: str, return_url: str, *, capture: bool
    ) -> ChargeResult | ActionRequired | ProviderError:
        if charge.outcome != SandboxCharge.Outcome.PENDING:
            if charge.outcome == SandboxCharge.Outcome.CANCELED and charge.card_last4:
                # An authorization let go since: the same key replays the first answer.
                return _charge_result(charge)
            return self._state(charge)
        if token in AUTHENTICATING_TOKENS:
            if not return_url:
                # Without the shopper (no return URL) the bank cannot ask: Stripe's off-session answer.
                charge.decline_code = "authentication_required"
                charge.outcome = SandboxCharge.Outcome.DECLINED
                _record(charge, ["decline_code", "outcome"])
                return PaymentDeclined(charge.decline_code)
            charge.client_secret = f"{charge.charge_id}_secret_{secrets.token_hex(12)}"
            charge.return_url = return_url
            outcome = AUTHENTICATING_TOKENS[token]
            # What the bank's page turns the charge into: with capture at shipment, an authorization.
            charge.authentication_outcome = AUTHORIZED if outcome == "succeeded" and not capture else outcome
            charge.outcome = SandboxCharge.Outcome.REQUIRES_ACTION
            _record(charge, ["client_secret", "return_url", "authentication_outcome", "outcome"])
            return _action(charge)
        if token == TRANSIENT_TOKEN and charge.transient_failures < settings.PAYMENTS_SANDBOX_TRANSIENT_FAILURES:
            charge.transient_failures += 1
            _record(charge, ["transient_failures"])
            return TransientProviderError("The sandbox simulated a provider outage.")
        if token in CHARGING_TOKENS:
            charge.card_brand, charge.card_last4 = CHARGING_TOKENS[token]
            charge.outcome = SandboxCharge.Outcome.SUCCEEDED if capture else SandboxCharge.Outcome.AUTHORIZED
            charge.decline_code = "" if capture else CAPTURE_REFUSING_TOKENS.get(token, "")
            _record(charge, ["card_brand", "card_last4", "outcome", "decline_code"])
            return _charge_result(charge)
        charge.decline_code = DECLINING_TOKENS.get(token, "invalid_payment_method")
        charge.outcome = SandboxCharge.Outcome.DECLINED
        _record(charge, ["decline_code", "outcome"])
        return PaymentDeclined(charge.decline_code)

    def _state(self, charge: SandboxCharge) -> ChargeResult | ActionRequired | ProviderError:
        if charge.outcome in (SandboxCharge.Outcome.SUCCEEDED, SandboxCharge.Outcome.AUTHORIZED):
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
                if charge.authentication_outcome in ("succeeded", AUTHORIZED):
                    charge.card_brand, charge.card_last4 = AUTHENTICATED_CARD
                    charge.outcome = (
                        SandboxCharge.Outcome.SUCCEEDED
                        if charge.authentication_outcome == "succeeded"
                        else SandboxCharge.Outcome.AUTHORIZED
                    )
                else:
                    charge.decline_code = charge.authentication_outcome
                    charge.outcome = SandboxCharge.Outcome.DECLINED
                charge.save(update_fields=["card_brand", "card_last4", "decline_code", "outcome"])
            passed = charge.outcome in (SandboxCharge.Outcome.SUCCEEDED, SandboxCharge.Outcome.AUTHORIZED)
            status = "succeeded" if passed else "failed"
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

    def cancel(self, *, charge_id: str, idempotency_key: str = "") -> None:
        # As Stripe: anything not yet paid can be cancelled (an attempt waiting for the shopper,
        # an authorization); cancelling twice is harmless, so the key needs no book of its own.
        with atomic(SERVICE):
            charge = SandboxCharge.objects.select_for_update().filter(charge_id=charge_id).first()
            if charge is None:
                raise ProviderError("No such charge.", code="resource_missing")
            if charge.outcome == SandboxCharge.Outcome.SUCCEEDED:
                raise ProviderError("The charge was paid; refund it instead.", code="payment_intent_unexpected_state")
            if charge.outcome != SandboxCharge.Outcome.CANCELED:
                charge.outcome = SandboxCharge.Outcome.CANCELED
                charge.save(update_fields=["outcome"])
