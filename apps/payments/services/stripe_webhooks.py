"""Stripe's events applied to payments' books, in any order and any number of times: a PaymentIntent
succeeded, failed, was cancelled, waits for the shopper or holds an authorization to capture; a
charge was refunded; a charge was disputed. Each handler reads the state Stripe reports and moves
payments' row only forward, so a late or repeated event changes nothing (the webhook receipt table
refuses an exact replay first). The signature is checked before this, with the SDK
(apps/payments/providers/stripe.py)."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

from apps.payments.contracts import events as contract
from apps.payments.errors import WebhookPayloadInvalid, WebhookUnprocessable
from apps.payments.models import Charge, PaymentIntent, Refund
from apps.payments.providers import ChargeResult, get_provider
from apps.payments.providers.measured import provider_call
from apps.payments.providers.stripe import action_of, decline_code, from_minor_units
from apps.payments.services.attempts import action_record, intent_for_provider_key, is_current_attempt
from apps.payments.services.captures import authorization_canceled
from apps.payments.services.charges import charge_record, fail, flag
from apps.payments.services.common import DECLINE_REASONS, parse_currency
from apps.payments.services.refunds import apply_refund, publish_refunded

logger = logging.getLogger(__name__)
PROVIDER = "stripe"


def _object(data: dict[str, Any], kind: str) -> dict[str, Any]:
    obj = data.get("object")
    if not isinstance(obj, dict) or obj.get("object") != kind or not isinstance(obj.get("id"), str):
        raise WebhookPayloadInvalid(f"The event does not carry a {kind}.")
    return obj


def _money(obj: dict[str, Any], field: str) -> tuple[Decimal, str]:
    currency = parse_currency(obj.get("currency"))
    value = obj.get(field)
    if currency is None or isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WebhookPayloadInvalid("The event's amount or currency is invalid.")
    return from_minor_units(value, currency), currency


def _intent_of(payment_intent: dict[str, Any]) -> PaymentIntent:
    """payments' row for a Stripe PaymentIntent, locked: by the id recorded at the charge or at
    the shopper's action, or by what the charge sent as metadata (payments' id, the attempt's
    key): a webhook may come before the charge's answer, or be about an earlier attempt."""
    rows = PaymentIntent.objects.select_for_update().filter(provider=PROVIDER)
    intent = rows.filter(provider_charge_id=payment_intent["id"]).first()
    intent = intent or rows.filter(provider_intent_id=payment_intent["id"]).first()
    metadata = payment_intent.get("metadata") or {}
    if intent is None and metadata.get("shopstack_payment_id"):
        try:
            intent = rows.filter(pk=uuid.UUID(str(metadata["shopstack_payment_id"]))).first()
        except ValueError:
            intent = None
    if intent is None:
        intent = intent_for_provider_key(rows, str(metadata.get("shopstack_idempotency_key") or ""))
    if intent is None:
        raise WebhookUnprocessable("No payment with this PaymentIntent is known.")
    return intent


def _key(payment_intent: dict[str, Any]) -> str:
    return str((payment_intent.get("metadata") or {}).get("shopstack_idempotency_key") or "")


def _intent_by_id(payment_intent_id: Any) -> PaymentIntent:
    if not isinstance(payment_intent_id, str) or not payment_intent_id:
        raise WebhookPayloadInvalid("The event names no PaymentIntent.")
    return _intent_of({"id": payment_intent_id})


def _succeeded(*, provider: str, data: dict[str, Any]) -> str:
    payment_intent = _object(data, "payment_intent")
    intent = _intent_of(payment_intent)
    amount, currency = _money(payment_intent, "amount_received" if "amount_received" in payment_intent else "amount")
    result = ChargeResult(charge_id=payment_intent["id"], amount=amount, currency=currency)
    return charge_record(intent, result=result)


def _payment_failed(*, provider: str, data: dict[str, Any]) -> str:
    payment_intent = _object(data, "payment_intent")
    intent = _intent_of(payment_intent)
    if intent.is_final:
        return f"ignored_{intent.status}"
    if not is_current_attempt(intent, payment_intent["id"], _key(payment_intent)):
        return "ignored_superseded"
    error = payment_intent.get("last_payment_error") or {}
    code = decline_code(str(error.get("code") or ""), error)
    fail(
        intent,
        failure_code=code,
        reason_code=DECLINE_REASONS.get(code, contract.REASON_DECLINED),
        message=str(error.get("message") or "The payment was declined.")[:255],
    )
    return "payment_failed"


def _canceled(*, provider: str, data: dict[str, Any]) -> str:
    payment_intent = _object(data, "payment_intent")
    intent = _intent_of(payment_intent)
    if (
        intent.capture_method == PaymentIntent.CaptureMethod.MANUAL
        and intent.status == PaymentIntent.Status.SUCCEEDED
        and payment_intent["id"] == intent.provider_charge_id
    ):
        # The payment's authorization let go: payments' own release, or an expiry
        # (services/captures.py). Another attempt's cancellation changes nothing: below.
        return authorization_canceled(intent)
    if intent.is_final:
        return f"ignored_{intent.status}"
    if not is_current_attempt(intent, payment_intent["id"], _key(payment_intent)):
        return "ignored_superseded"  # payments abandoned it for a newer attempt
    fail(
        intent,
        failure_code="canceled",
        reason_code=contract.REASON_DECLINED,
        message="The payment was cancelled at the provider.",
    )
    return "payment_failed"


def _amount_capturable_updated(*, provider: str, data: dict[str, Any]) -> str:
    """A manual-capture PaymentIntent is authorized (requires_capture), if its charge call's
    answer did not say so first."""
    payment_intent = _object(data, "payment_intent")
    intent = _intent_of(payment_intent)
    amount, currency = _money(payment_intent, "amount_capturable")
    if intent.capture_method != PaymentIntent.CaptureMethod.MANUAL or amount <= 0:
        return "ignored_nothing_to_authorize"
    return charge_record(
        intent, result=ChargeResult(charge_id=payment_intent["id"], amount=amount, currency=currency, captured=False)
    )


def _requires_action(*, provider: str, data: dict[str, Any]) -> str:
    """The charge's answer says so first; this event matters when that answer was lost (the
    charge task still pending): the shopper's client learns what to do all the same."""
    payment_intent = _object(data, "payment_intent")
    intent = _intent_of(payment_intent)
    if intent.status != PaymentIntent.Status.PENDING or not is_current_attempt(
        intent, payment_intent["id"], _key(payment_intent)
    ):
        return f"ignored_{intent.status}"
    return action_record(intent, action_of(payment_intent))


def _refunded(*, provider: str, data: dict[str, Any]) -> str:
    """A charge refunded (by payments, at Stripe's dashboard, or after a dispute)."""
    stripe_charge = _object(data, "charge")
    intent = _intent_by_id(stripe_charge.get("payment_intent"))
    return "refund_recorded" if refunds_sync(intent) else "already_recorded"


def refunds_sync(intent: PaymentIntent) -> int:
    """Record and announce every refund Stripe holds for the locked payment that payments has not
    recorded; returns how many. Stripe's charge object no longer lists its refunds, so they are
    read from Stripe (by the webhook and by the reconciliation alike)."""
    charge = Charge.objects.select_for_update().filter(intent=intent).first()
    if charge is None:
        raise WebhookUnprocessable("The payment has no charge to refund.")
    recorded = 0
    provider = get_provider()
    with provider_call("refunds_of", provider=provider.name):
        refunds = provider.refunds_of(charge_id=charge.provider_charge_id, currency=charge.currency)
    for refund in refunds:
        if Refund.objects.filter(provider_refund_id=refund.refund_id).exists():
            continue
        # A refund payments asked for, whose answer the refund task has not recorded yet: the
        # task records it (its retry with the same key gets the same refund).
        if refund.own_key and Refund.objects.filter(refund_id=refund.own_key).exists():
            continue
        if refund.currency != charge.currency or refund.amount > charge.amount_refundable:
            flag(intent, attention=PaymentIntent.Attention.AMOUNT_MISMATCH, detail=f"refund {refund.refund_id}")
            continue
        row = Refund.objects.create(
            refund_id=f"provider:{refund.refund_id}"[:100],
            intent=intent,
            charge=charge,
            source=Refund.Source.PROVIDER,
            amount=refund.amount,
            currency=refund.currency,
            reason="Refunded at the provider.",
            status=Refund.Status.SUCCEEDED,
            provider_refund_id=refund.refund_id,
        )
        apply_refund(charge, refund.amount)
        publish_refunded(row)
        recorded += 1
    return recorded


def _dispute_created(*, provider: str, data: dict[str, Any]) -> str:
    dispute = _object(data, "dispute")
    intent = _intent_by_id(dispute.get("payment_intent"))
    amount, currency = _money(dispute, "amount")
    flag(
        intent,
        attention=PaymentIntent.Attention.DISPUTED,
        detail=f"{dispute['id']}: {amount} {currency}, {str(dispute.get('reason') or 'no reason given')[:60]}",
    )
    return "flagged_disputed"


HANDLERS = {
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _payment_failed,
    "payment_intent.canceled": _canceled,
    "payment_intent.amount_capturable_updated": _amount_capturable_updated,
    "payment_intent.requires_action": _requires_action,
    "charge.refunded": _refunded,
    "charge.dispute.created": _dispute_created,
}
