"""Verified provider webhooks applied once each: the sandbox's (a refund made at the provider, a
charge that failed afterwards) here, Stripe's in stripe_webhooks.py. The signature is checked
before this, in apps/payments/webhooks.py (the sandbox's scheme) or by Stripe's SDK."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError

from apps.core.cards import redact_card_numbers_in
from apps.core.db import atomic
from apps.payments.contracts import events as contract
from apps.payments.errors import WebhookPayloadInvalid, WebhookReplayed, WebhookUnprocessable
from apps.payments.models import Charge, PaymentIntent, Refund, WebhookEvent
from apps.payments.services import stripe_webhooks
from apps.payments.services.charges import fail
from apps.payments.services.common import DECLINE_REASONS, SERVICE, parse_amount, parse_currency
from apps.payments.services.refunds import apply_refund, publish_refunded

logger = logging.getLogger(__name__)


def _required(data: dict[str, Any], *names: str) -> list[str]:
    values = [str(data.get(name) or "").strip() for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        raise WebhookPayloadInvalid(f"The event's data lacks: {', '.join(missing)}.")
    return values


def _webhook_charge_refunded(*, provider: str, data: dict[str, Any]) -> str:
    """A refund made at the provider (its dashboard, a dispute): recorded and announced, unless
    it is the echo of a refund payments made itself."""
    charge_id, provider_refund_id, raw_amount, raw_currency = _required(
        data, "charge_id", "refund_id", "amount", "currency"
    )
    amount, currency = parse_amount(raw_amount), parse_currency(raw_currency)
    if amount is None or currency is None:
        raise WebhookPayloadInvalid("The refund's amount or currency is invalid.")
    # Lock the charge first: a refund task holds it during its provider call, so its own
    # refund is recorded by the time this looks for it.
    charge = (
        Charge.objects.select_for_update()
        .select_related("intent")
        .filter(provider=provider, provider_charge_id=charge_id)
        .first()
    )
    if charge is None:
        raise WebhookUnprocessable("No charge with this id is known.")
    if Refund.objects.filter(provider_refund_id=provider_refund_id).exists():
        return "already_recorded"
    # A refund payments asked for whose provider call timed out after it went through: the key
    # is the refund id, and the refund task's retry records it (with the same provider refund).
    own_key = str(data.get("idempotency_key") or "")
    if own_key and Refund.objects.filter(refund_id=own_key).exists():
        return "already_recorded"
    if currency != charge.currency or amount > charge.amount_refundable:
        raise WebhookUnprocessable("The refund does not fit the charge's currency or remaining amount.")
    refund = Refund.objects.create(
        refund_id=f"provider:{provider_refund_id}"[:100],
        intent=charge.intent,
        charge=charge,
        source=Refund.Source.PROVIDER,
        amount=amount,
        currency=currency,
        reason="Refunded at the provider.",
        status=Refund.Status.SUCCEEDED,
        provider_refund_id=provider_refund_id,
    )
    apply_refund(charge, amount)
    publish_refunded(refund)
    return "refund_recorded"


def _webhook_charge_failed(*, provider: str, data: dict[str, Any]) -> str:
    """The provider reports a charge failed asynchronously: a pending payment fails; a final one
    is not reopened."""
    (idempotency_key,) = _required(data, "idempotency_key")
    failure_code = str(data.get("failure_code") or "card_declined")[:50]
    intent = (
        PaymentIntent.objects.select_for_update().filter(provider=provider, idempotency_key=idempotency_key).first()
    )
    if intent is None:
        raise WebhookUnprocessable("No payment with this idempotency key is known.")
    if intent.is_final:
        return f"ignored_{intent.status}"
    fail(
        intent,
        failure_code=failure_code,
        reason_code=DECLINE_REASONS.get(failure_code, contract.REASON_DECLINED),
        message=str(data.get("failure_message") or "The payment was declined.")[:255],
    )
    return "payment_failed"


WEBHOOK_HANDLERS = {
    "charge.refunded": _webhook_charge_refunded,
    "charge.failed": _webhook_charge_failed,
}


def webhook_receive(
    *, provider: str, event_id: str, event_type: str, data: dict[str, Any], payload: Any
) -> WebhookEvent:
    """Apply a verified provider event once. The event row (unique per provider and id) commits
    with the effect, so a replay is refused and a failed event can be delivered again."""
    with atomic(SERVICE):
        try:
            with atomic(SERVICE):
                # Kept for staff to read; a provider never sends a full card number, but if one
                # ever did, it must not rest here.
                event = WebhookEvent.objects.create(
                    provider=provider, event_id=event_id, event_type=event_type, payload=redact_card_numbers_in(payload)
                )
        except IntegrityError:
            # A replay only if the event is there (committed by the first delivery, or by a
            # concurrent one this insert waited for); any other integrity error is a bug to see.
            if WebhookEvent.objects.filter(provider=provider, event_id=event_id).exists():
                raise WebhookReplayed() from None
            raise
        handlers = stripe_webhooks.HANDLERS if provider == stripe_webhooks.PROVIDER else WEBHOOK_HANDLERS
        handler = handlers.get(event_type)
        # Providers send many event types; those payments does not act on are acknowledged.
        event.outcome = handler(provider=provider, data=data) if handler else "ignored"
        event.save(update_fields=["outcome"])
    logger.info("webhook %s %s from %s: %s", event_type, event_id, provider, event.outcome)
    return event
