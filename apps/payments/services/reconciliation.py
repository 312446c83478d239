"""Reconciliation with the provider: the PaymentIntents and refunds made since a cursor, compared
with payments' rows. What a lost webhook or a lost charge answer left behind is repaired through
the same services the webhooks use (so the saga hears payment.succeeded, payment.failed or
payment.refunded exactly once); what cannot be repaired is flagged for staff. Each difference is
kept as a ProviderDrift row, shown in the admin."""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.core.db import atomic
from apps.payments.contracts import events as contract
from apps.payments.models import PaymentIntent, ProviderDrift, ReconciliationCursor
from apps.payments.providers import ChargeResult, get_provider
from apps.payments.providers.stripe import ProviderPayment, from_minor_units
from apps.payments.services.attempts import attempt_expire, intent_for_provider_key, is_current_attempt
from apps.payments.services.captures import authorization_canceled
from apps.payments.services.charges import charge_record, fail
from apps.payments.services.common import DECLINE_REASONS, SERVICE, parse_currency
from apps.payments.services.stripe_webhooks import refunds_sync

logger = logging.getLogger(__name__)
# PaymentIntent statuses after which nothing more happens without a new confirmation.
FAILED_STATUSES = ("requires_payment_method", "canceled")


def _drift(*, provider: str, object_id: str, kind: str, intent: PaymentIntent | None, detail: str) -> None:
    ProviderDrift.objects.get_or_create(
        provider=provider, object_id=object_id, kind=kind, defaults={"intent": intent, "detail": detail[:255]}
    )


def _reconcile_payment(provider: str, payment: ProviderPayment, report: Counter) -> bool:
    """Bring payments' row in line with one PaymentIntent; True once nothing can change any more."""
    grace = timezone.now() - timedelta(seconds=settings.PAYMENTS_RECONCILE_GRACE_SECONDS)
    with atomic(SERVICE):
        intent = intent_for_provider_key(
            PaymentIntent.objects.select_for_update().filter(provider=provider), payment.own_key
        )
        currency = parse_currency(payment.currency)
        if intent is None or currency is None:
            if payment.status == "succeeded":
                _drift(
                    provider=provider,
                    object_id=payment.payment_intent_id,
                    kind=ProviderDrift.Kind.UNKNOWN_PAYMENT,
                    intent=None,
                    detail=f"{payment.amount} {payment.currency} (minor units), key {payment.own_key}",
                )
                report["unknown"] += 1
            return True
        if payment.status == "succeeded":
            result = ChargeResult(
                charge_id=payment.payment_intent_id,
                amount=from_minor_units(payment.amount, currency),
                currency=currency,
            )
            outcome = charge_record(intent, result=result)
            # capture_recorded: a capture at shipment whose answer (or webhook) was lost.
            if outcome in ("payment_succeeded", "capture_recorded"):
                kind = ProviderDrift.Kind.MISSED_SUCCESS
            elif outcome.startswith("flagged") or outcome == "paid_after_failure":
                kind = ProviderDrift.Kind.NEEDS_STAFF
            else:
                return True
            _drift(provider=provider, object_id=payment.payment_intent_id, kind=kind, intent=intent, detail=outcome)
            report[kind] += 1
            return True
        if payment.status == "requires_capture":
            # Authorized (capture at shipment): recorded once if its answer was lost.
            result = ChargeResult(
                charge_id=payment.payment_intent_id,
                amount=from_minor_units(payment.amount, currency),
                currency=currency,
                captured=False,
            )
            outcome = charge_record(intent, result=result)
            if outcome == "payment_authorized":
                _drift(
                    provider=provider,
                    object_id=payment.payment_intent_id,
                    kind=ProviderDrift.Kind.MISSED_SUCCESS,
                    intent=intent,
                    detail="authorized",
                )
                report[ProviderDrift.Kind.MISSED_SUCCESS] += 1
            elif outcome.startswith("duplicate"):
                # Another attempt's authorization, released (or flagged): staff see it.
                _drift(
                    provider=provider,
                    object_id=payment.payment_intent_id,
                    kind=ProviderDrift.Kind.NEEDS_STAFF,
                    intent=intent,
                    detail=outcome,
                )
                report[ProviderDrift.Kind.NEEDS_STAFF] += 1
                return outcome == "duplicate_released"
            return False  # still to be captured or released: read again next run
        if (
            payment.status == "canceled"
            and intent.capture_status == PaymentIntent.CaptureStatus.AUTHORIZED
            and payment.payment_intent_id == intent.provider_charge_id
        ):
            # The authorization expired (or was cancelled at the provider) and no webhook said so.
            authorization_canceled(intent)
            _drift(
                provider=provider,
                object_id=payment.payment_intent_id,
                kind=ProviderDrift.Kind.NEEDS_STAFF,
                intent=intent,
                detail="authorization expired",
            )
            report[ProviderDrift.Kind.NEEDS_STAFF] += 1
            return True
        if payment.status in FAILED_STATUSES:
            if intent.is_final or not is_current_attempt(intent, payment.payment_intent_id, payment.own_key):
                return True
            if intent.created_at > grace:
                return False  # its charge task may still be at work: next run
            code = payment.failure_code or payment.status
            fail(
                intent,
                failure_code=code,
                reason_code=DECLINE_REASONS.get(code, contract.REASON_DECLINED),
                message="The payment did not go through at the provider.",
            )
            _drift(
                provider=provider,
                object_id=payment.payment_intent_id,
                kind=ProviderDrift.Kind.MISSED_FAILURE,
                intent=intent,
                detail=code,
            )
            report[ProviderDrift.Kind.MISSED_FAILURE] += 1
            return True
        if payment.status == "requires_action" and is_current_attempt(
            intent, payment.payment_intent_id, payment.own_key
        ):
            # Past orders' deadline the shopper's action is closed at Stripe (the order is cancelled).
            return attempt_expire(intent) != "waiting"
        # processing, requires_capture, an older attempt...: not settled yet, unless payments is.
        return intent.is_final or not is_current_attempt(intent, payment.payment_intent_id, payment.own_key)


def _reconcile_refunds(provider: str, payment_intent_id: str, report: Counter) -> None:
    with atomic(SERVICE):
        intent = (
            PaymentIntent.objects.select_for_update()
            .filter(provider=provider, provider_charge_id=payment_intent_id, status=PaymentIntent.Status.SUCCEEDED)
            .first()
        )
        if intent is None:
            return
        recorded = refunds_sync(intent)
        if recorded:
            _drift(
                provider=provider,
                object_id=payment_intent_id,
                kind=ProviderDrift.Kind.MISSED_REFUND,
                intent=intent,
                detail=f"{recorded} refund(s) recorded",
            )
            report[ProviderDrift.Kind.MISSED_REFUND] += recorded


def provider_reconcile(*, now: float | None = None) -> Counter:
    """One reconciliation run against the configured provider; returns what it found, by kind.
    A provider that keeps its books in payments' own database (the sandbox) has nothing to list."""
    provider = get_provider()
    if not hasattr(provider, "payments_since"):
        return Counter()
    now = time.time() if now is None else now
    cursor, _ = ReconciliationCursor.objects.get_or_create(
        provider=provider.name, defaults={"created_gte": int(now) - settings.PAYMENTS_RECONCILE_LOOKBACK_SECONDS}
    )
    start = cursor.created_gte
    report: Counter = Counter()
    unsettled: list[int] = []
    for payment in provider.payments_since(created_gte=start):
        if not payment.own_key:
            continue  # another application's PaymentIntent on the same account
        try:
            settled = _reconcile_payment(provider.name, payment, report)
        except Exception:
            logger.exception("reconciliation of %s failed; retried next run", payment.payment_intent_id)
            settled = False
        if not settled:
            unsettled.append(payment.created)
    for payment_intent_id in provider.refunded_since(created_gte=start):
        try:
            _reconcile_refunds(provider.name, payment_intent_id, report)
        except Exception:
            logger.exception("reconciliation of the refunds of %s failed; retried next run", payment_intent_id)
    # The next run starts at the earliest unsettled PaymentIntent, or a little before now: an
    # object the provider lists late is still read.
    cursor.created_gte = (
        min(unsettled) if unsettled else max(start, int(now) - settings.PAYMENTS_RECONCILE_GRACE_SECONDS)
    )
    cursor.ran_at = timezone.now()
    cursor.save(update_fields=["created_gte", "ran_at"])
    if report:
        logger.warning("reconciliation with %s found drift: %s", provider.name, dict(report))
    return report
