"""Taking a payment for an order: payment.requested parsed and recorded as an intent, the charge at
the provider, and payment.succeeded or payment.failed.

The charge itself runs in a task (tasks.charge_payment), not in the payment.requested handler:
the handler records a pending intent and enqueues the task; the task locks the intent, calls the
provider with the order's idempotency key and records the outcome. A transient provider error is
committed as an attempt and the task retries with backoff, so a redelivered event or a retried
task can never charge twice (the provider replays the first outcome for the same key).

The charge is made with the shopper present (a return URL): a card that needs 3-D Secure leaves
the intent waiting for the shopper (services/attempts.py takes it from there)."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from apps.core.db import atomic
from apps.core.events import publish, publish_about_customer
from apps.payments.contracts import events as contract
from apps.payments.models import Charge, PaymentIntent
from apps.payments.providers import (
    ActionRequired,
    ChargeResult,
    PaymentDeclined,
    ProviderError,
    TransientProviderError,
    get_provider,
    looks_like_card_number,
)
from apps.payments.providers.measured import provider_call
from apps.payments.services.common import (
    DECLINE_REASONS,
    PRODUCER,
    SERVICE,
    Outcome,
    customer_ref,
    parse_amount,
    parse_currency,
)
from apps.payments.services.statements import intent_insert_new, intent_locked

logger = logging.getLogger(__name__)

GIVE_UP_MESSAGE = "The payment provider could not be reached; no payment was taken."
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PaymentRequest:
    order_id: uuid.UUID
    order_number: str
    customer_id: uuid.UUID | None  # None: a guest order (payment.requested version 2)
    amount: Decimal
    currency: str
    payment_method_token: str
    idempotency_key: str
    capture_method: str = PaymentIntent.CaptureMethod.AUTOMATIC
    pay_by: datetime | None = None
    retry_key_hash: str = ""  # the SHA-256 of the order's retry key (services/attempts.py)


def payment_request_parse(payload: dict[str, Any]) -> PaymentRequest | None:
    """payment.requested's payload, validated; None (and an error logged) when it is unusable.
    The token is never logged: it is a credential for the shopper's card."""
    try:
        order_id = uuid.UUID(str(payload["order_id"]))
        customer = payload["customer_id"]
        customer_id = uuid.UUID(str(customer)) if customer is not None else None
        amount = parse_amount(payload["amount"])
        currency = parse_currency(payload["currency"])
        token = str(payload["payment_method_token"] or "")
        key = str(payload["idempotency_key"] or "")
        capture_method = PaymentIntent.CaptureMethod(str(payload.get("capture") or "automatic"))
    except (KeyError, TypeError, ValueError) as error:
        logger.error("payment.requested with an unusable payload ignored: %s", type(error).__name__)
        return None
    if amount is None or currency is None or not key or len(key) > 255:
        logger.error("payment.requested for order %s has an invalid amount, currency or key; ignored", order_id)
        return None
    return PaymentRequest(
        order_id=order_id,
        order_number=str(payload.get("order_number") or "")[:64],
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        payment_method_token=token,
        idempotency_key=key,
        capture_method=capture_method,
        pay_by=_aware(payload.get("pay_by")),
        retry_key_hash=_sha256_hex(payload.get("retry_key_sha256")),
    )


def _sha256_hex(value: Any) -> str:
    """A SHA-256 in hex, or "" (nobody may pay again by key) for anything else."""
    digest = str(value or "").strip().lower()
    return digest if _SHA256_HEX.fullmatch(digest) else ""


def _aware(value: Any) -> datetime | None:
    try:
        moment = parse_datetime(str(value or ""))
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _publish_succeeded(intent: PaymentIntent) -> None:
    payload = contract.PaymentSucceeded(
        order_id=str(intent.order_id), payment_id=str(intent.id), amount=str(intent.amount), currency=intent.currency
    )
    publish(producer=PRODUCER, event_type=contract.PAYMENT_SUCCEEDED, payload=payload)


def _publish_failed(intent: PaymentIntent, *, reason_code: str) -> None:
    payload = contract.PaymentFailed(
        order_id=str(intent.order_id),
        payment_id=str(intent.id),
        customer_id=customer_ref(intent),
        reason_code=reason_code,
        message=intent.failure_message,
        attempt=intent.attempt,
        failure_code=intent.failure_code,
    )
    publish_about_customer(
        producer=PRODUCER, event_type=contract.PAYMENT_FAILED, payload=payload, guest_version=contract.GUEST_VERSION
    )


def _enqueue_charge(intent: PaymentIntent, payment_method_token: str) -> None:
    # Imported here: tasks.py imports this module. The token travels only in the task message,
    # never in a table.
    from apps.core.tasks import enqueue
    from apps.payments.tasks import charge_payment

    enqueue(SERVICE, charge_payment, intent_id=str(intent.id), payment_method_token=payment_method_token)


def fail(intent: PaymentIntent, *, failure_code: str, reason_code: str, message: str) -> None:
    intent.status = PaymentIntent.Status.FAILED
    intent.failure_code = failure_code[:50]
    intent.failure_message = message[:255]
    intent.save(
        update_fields=[
            "status",
            "failure_code",
            "failure_message",
            "attempts",
            "last_error",
            # A new attempt's number and its cleared provider object commit with its failure.
            "attempt",
            "provider_intent_id",
            "client_secret_hash",
            "updated_at",
        ]
    )
    _publish_failed(intent, reason_code=reason_code)
    logger.info("payment %s for order %s failed: %s", intent.id, intent.order_id, failure_code)


def payment_request(*, request: PaymentRequest) -> PaymentIntent | None:
    """Record the order's payment (once per order) and enqueue its charge.

    Idempotent per order: a final intent is left alone and nothing is published again; a pending
    one gets its charge enqueued again (the task and the provider's idempotency key make that
    harmless, and it revives a charge whose task was lost)."""
    # No savepoint: called in the inbox transaction, where an error rolls back the whole delivery.
    with atomic(SERVICE, savepoint=False):
        intent = PaymentIntent(
            order_id=request.order_id,
            order_number=request.order_number,
            customer_id=request.customer_id,
            amount=request.amount,
            currency=request.currency,
            idempotency_key=request.idempotency_key,
            provider=get_provider().name,
            capture_method=request.capture_method,
            pay_by=request.pay_by,
            retry_key_hash=request.retry_key_hash,
        )
        # The first delivery inserts the intent (one statement, nothing to read first); a later
        # or concurrent one finds the row taken and reads it, locked, as it stands.
        if not intent_insert_new(intent):
            intent = intent_locked(order_id=request.order_id)
            if intent is None:
                # The key belongs to another order (a producer bug: refusing it protects that payment).
                logger.error(
                    "payment.requested for order %s reuses another order's idempotency key; ignored", request.order_id
                )
                return None
        if intent.status != PaymentIntent.Status.PENDING:
            logger.info("payment for order %s is already %s; request ignored", request.order_id, intent.status)
            return intent
        if (intent.amount, intent.currency, intent.idempotency_key) != (
            request.amount,
            request.currency,
            request.idempotency_key,
        ):
            logger.warning("payment.requested for order %s differs from the first one, which stands", intent.order_id)
        if looks_like_card_number(request.payment_method_token):
            # A card number must never reach a log, a table or a provider call as a "token".
            fail(
                intent,
                failure_code="invalid_payment_method",
                reason_code=contract.REASON_INVALID_PAYMENT_METHOD,
                message="A card number was sent instead of a payment method token.",
            )
            return intent
        _enqueue_charge(intent, request.payment_method_token)
        return intent


def payment_charge(*, intent_id: uuid.UUID, payment_method_token: str) -> Outcome:
    """Charge a pending intent at the provider and record the result with its event.

    The intent stays locked for the call so concurrent tasks for one order run one at a time; a
    transient error commits the attempt and asks the caller to retry."""
    provider = get_provider()
    with atomic(SERVICE):
        intent = intent_locked(pk=intent_id)
        if intent is None:
            logger.error("charge of unknown payment intent %s skipped", intent_id)
            return Outcome.DONE
        if intent.status != PaymentIntent.Status.PENDING:
            return Outcome.DONE
        intent.attempts += 1
        try:
            result = provider_charge(intent, payment_method_token)
        except PaymentDeclined as declined:
            fail(
                intent,
                failure_code=declined.code,
                reason_code=DECLINE_REASONS.get(declined.code, contract.REASON_DECLINED),
                message=declined.message,
            )
            return Outcome.DONE
        except TransientProviderError as error:
            return _charge_attempt_failed(intent, error)
        except ProviderError as error:
            fail(intent, failure_code=error.code, reason_code=contract.REASON_PROVIDER_ERROR, message=error.message)
            return Outcome.DONE
        except Exception as error:
            # An error the adapter did not map: retrying with the same key cannot charge twice.
            logger.exception("provider %s raised an unmapped error charging %s", provider.name, intent.id)
            return _charge_attempt_failed(intent, error)

        outcome_record(intent, result)
        return Outcome.DONE


def provider_charge(intent: PaymentIntent, payment_method_token: str) -> ChargeResult | ActionRequired:
    """The provider call for the intent's current attempt, with the shopper present."""
    provider = get_provider()
    with provider_call("charge", provider=provider.name):
        return provider.charge(
            amount=intent.amount,
            currency=intent.currency,
            payment_method_token=payment_method_token,
            idempotency_key=intent.attempt_key,
            capture=intent.capture_method != PaymentIntent.CaptureMethod.MANUAL,
            return_url=settings.PAYMENTS_RETURN_URL,
            reference=str(intent.id),
        )


def outcome_record(intent: PaymentIntent, result: ChargeResult | ActionRequired) -> str:
    """Record the provider's answer for the locked intent: a charge, or a wait for the shopper."""
    if isinstance(result, ActionRequired):
        from apps.payments.services.attempts import action_record  # attempts imports this module

        return action_record(intent, result)
    return charge_record(intent, result=result)


def flag(intent: PaymentIntent, *, attention: str, detail: str) -> None:
    """Mark the payment for staff (the admin filters on it); the first reason stands."""
    if not intent.attention:
        intent.attention = attention
        intent.attention_detail = detail[:255]
        intent.save(update_fields=["attention", "attention_detail", "updated_at"])
    logger.error("payment %s for order %s needs staff: %s (%s)", intent.id, intent.order_id, attention, detail)


def charge_record(intent: PaymentIntent, *, result: ChargeResult) -> str:
    """Record a charge the provider reports (its answer to the charge call, a webhook, the
    reconciliation) on a locked intent, once, and announce payment.succeeded. A charge of another
    amount or currency than the order's is flagged for staff and never confirms the order."""
    if intent.capture_method == PaymentIntent.CaptureMethod.MANUAL:
        # Authorize now, capture later: services/captures.py records both steps. Imported here:
        # captures.py imports this module.
        from apps.payments.services.captures import manual_payment_record

        return manual_payment_record(intent, result=result)
    if (result.amount, result.currency) != (intent.amount, intent.currency):
        flag(
            intent,
            attention=PaymentIntent.Attention.AMOUNT_MISMATCH,
            detail=f"{result.charge_id}: {result.amount} {result.currency}, not {intent.amount} {intent.currency}",
        )
        return "flagged_amount_mismatch"
    if intent.status == PaymentIntent.Status.SUCCEEDED:
        if result.charge_id != intent.provider_charge_id:
            from apps.payments.services.attempts import duplicate_refund  # attempts imports this module

            return duplicate_refund(intent, result)
        return "already_recorded"
    outcome = "payment_succeeded"
    if intent.status == PaymentIntent.Status.FAILED:
        # Reported failed (a decline, or given up on an unreachable provider) yet the money was
        # taken: it is recorded and announced all the same, so orders, whose order is cancelled
        # by now, refunds it at once (never "paid but no order"); staff see the flag.
        flag(intent, attention=PaymentIntent.Attention.PAID_AFTER_FAILURE, detail=result.charge_id)
        outcome = "paid_after_failure"
    Charge.objects.create(
        intent=intent,
        provider=intent.provider,
        provider_charge_id=result.charge_id,
        amount=result.amount,
        currency=result.currency,
    )
    intent.status = PaymentIntent.Status.SUCCEEDED
    intent.provider_charge_id = result.charge_id
    intent.card_brand = result.card_brand[:20]
    intent.card_last4 = result.card_last4[-4:]
    intent.failure_code = intent.failure_message = ""
    superseded = intent.provider_intent_id if intent.provider_intent_id not in ("", result.charge_id) else ""
    intent.provider_intent_id = result.charge_id
    intent.save()
    _publish_succeeded(intent)
    if superseded:
        # An earlier attempt went through after all: the open one must never be completed too.
        from apps.payments.services.attempts import attempt_abandon  # attempts imports this module

        attempt_abandon(superseded)
    logger.info("payment %s for order %s captured", intent.id, intent.order_id)
    return outcome


def _charge_attempt_failed(intent: PaymentIntent, error: Exception) -> Outcome:
    intent.last_error = f"{type(error).__name__}: {error}"[:2000]
    intent.save(update_fields=["attempts", "last_error", "updated_at"])
    logger.warning("charge of %s failed transiently (attempt %s): %s", intent.id, intent.attempts, error)
    return Outcome.RETRY


def payment_charge_give_up(*, intent_id: uuid.UUID) -> None:
    """After the last retry: the payment fails with provider_error (the order waits for the
    shopper to pay again, until its deadline)."""
    with atomic(SERVICE):
        intent = PaymentIntent.objects.select_for_update().filter(pk=intent_id).first()
        if intent is None or intent.status != PaymentIntent.Status.PENDING:
            return
        fail(
            intent,
            failure_code="provider_unavailable",
            reason_code=contract.REASON_PROVIDER_ERROR,
            message=GIVE_UP_MESSAGE,
        )
