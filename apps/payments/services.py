"""Writes of the payments service: taking a payment for an order, refunding it, and applying
verified provider webhooks. Every change and the event it publishes commit in one transaction on
the payments database.

The charge itself runs in a task (tasks.charge_payment), not in the payment.requested handler:
the handler records a pending intent and enqueues the task; the task locks the intent, calls the
provider with the order's idempotency key and records the outcome. A transient provider error is
committed as an attempt and the task retries with backoff, so a redelivered event or a retried
task can never charge twice (the provider replays the first outcome for the same key)."""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError
from django.db.models import Sum

from apps.core.cards import redact_card_numbers_in
from apps.core.currencies import is_currency
from apps.core.db import atomic
from apps.core.events import publish
from apps.payments.contracts import events as contract
from apps.payments.errors import WebhookPayloadInvalid, WebhookReplayed, WebhookUnprocessable
from apps.payments.models import MONEY, Charge, PaymentIntent, Refund, WebhookEvent
from apps.payments.providers import (
    PaymentDeclined,
    ProviderError,
    TransientProviderError,
    get_provider,
    looks_like_card_number,
)

logger = logging.getLogger(__name__)

SERVICE = PRODUCER = "payments"
CENT = Decimal("0.01")
# The first amount the money columns (12 digits, 2 after the point) cannot hold.
MAX_AMOUNT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])
# Provider decline codes with a reason of their own in payment.failed; every other decline
# (expired_card, do_not_honor, ...) is reported as "declined".
DECLINE_REASONS = {
    "insufficient_funds": contract.REASON_INSUFFICIENT_FUNDS,
    "invalid_payment_method": contract.REASON_INVALID_PAYMENT_METHOD,
}
GIVE_UP_MESSAGE = "The payment provider could not be reached; no payment was taken."


class Outcome(enum.Enum):
    """What a task should do after a provider call: stop, or retry later with the same key."""

    DONE = "done"
    RETRY = "retry"


@dataclass(frozen=True)
class PaymentRequest:
    order_id: uuid.UUID
    order_number: str
    customer_id: uuid.UUID
    amount: Decimal
    currency: str
    payment_method_token: str
    idempotency_key: str


def parse_amount(value: Any) -> Decimal | None:
    """A positive amount with at most two decimal places, from a decimal string; else None."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    # Bounded before quantize: "1e100" would overflow its precision (InvalidOperation).
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT or amount != amount.quantize(CENT):
        return None
    return amount.quantize(CENT)


def parse_currency(value: Any) -> str | None:
    """An active ISO 4217 code (apps/core/currencies.py), or None: three letters are not enough
    (XXX or XTS are no money to charge in)."""
    currency = str(value or "").strip().upper()
    return currency if is_currency(currency) else None


def payment_request_parse(payload: dict[str, Any]) -> PaymentRequest | None:
    """payment.requested's payload, validated; None (and an error logged) when it is unusable.
    The token is never logged: it is a credential for the shopper's card."""
    try:
        order_id = uuid.UUID(str(payload["order_id"]))
        customer_id = uuid.UUID(str(payload["customer_id"]))
        amount = parse_amount(payload["amount"])
        currency = parse_currency(payload["currency"])
        token = str(payload["payment_method_token"] or "")
        key = str(payload["idempotency_key"] or "")
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
    )


# --- Events ------------------------------------------------------------------------------------


def _publish_succeeded(intent: PaymentIntent) -> None:
    payload = contract.PaymentSucceeded(
        order_id=str(intent.order_id), payment_id=str(intent.id), amount=str(intent.amount), currency=intent.currency
    )
    publish(producer=PRODUCER, event_type=contract.PAYMENT_SUCCEEDED, payload=payload)


def _publish_failed(intent: PaymentIntent, *, reason_code: str) -> None:
    payload = contract.PaymentFailed(
        order_id=str(intent.order_id),
        payment_id=str(intent.id),
        customer_id=str(intent.customer_id),
        reason_code=reason_code,
        message=intent.failure_message,
    )
    publish(producer=PRODUCER, event_type=contract.PAYMENT_FAILED, payload=payload)


def _publish_refunded(refund: Refund) -> None:
    payload = contract.PaymentRefunded(
        order_id=str(refund.intent.order_id),
        payment_id=str(refund.intent_id),
        refund_id=refund.refund_id,
        customer_id=str(refund.intent.customer_id),
        amount=str(refund.amount),
        currency=refund.currency,
    )
    publish(producer=PRODUCER, event_type=contract.PAYMENT_REFUNDED, payload=payload)


def _publish_refund_failed(
    *,
    order_id: uuid.UUID,
    intent: PaymentIntent | None,
    refund_id: str,
    amount: Decimal | None,
    currency: str,
    reason_code: str,
    message: str,
) -> None:
    payload = contract.PaymentRefundFailed(
        order_id=str(order_id),
        payment_id=str(intent.id) if intent else "",
        refund_id=refund_id,
        customer_id=str(intent.customer_id) if intent else "",
        amount=str(amount) if amount is not None else "",
        currency=currency,
        reason_code=reason_code,
        message=message,
    )
    publish(producer=PRODUCER, event_type=contract.PAYMENT_REFUND_FAILED, payload=payload)


# --- Charging ----------------------------------------------------------------------------------


def _enqueue_charge(intent: PaymentIntent, payment_method_token: str) -> None:
    # Imported here: tasks.py imports this module. The token travels only in the task message,
    # never in a table.
    from apps.core.tasks import enqueue
    from apps.payments.tasks import charge_payment

    enqueue(SERVICE, charge_payment, intent_id=str(intent.id), payment_method_token=payment_method_token)


def _fail(intent: PaymentIntent, *, failure_code: str, reason_code: str, message: str) -> None:
    intent.status = PaymentIntent.Status.FAILED
    intent.failure_code = failure_code[:50]
    intent.failure_message = message[:255]
    intent.save(update_fields=["status", "failure_code", "failure_message", "attempts", "last_error", "updated_at"])
    _publish_failed(intent, reason_code=reason_code)
    logger.info("payment %s for order %s failed: %s", intent.id, intent.order_id, failure_code)


def payment_request(*, request: PaymentRequest) -> PaymentIntent | None:
    """Record the order's payment (once per order) and enqueue its charge.

    Idempotent per order: a final intent is left alone and nothing is published again; a pending
    one gets its charge enqueued again (the task and the provider's idempotency key make that
    harmless, and it revives a charge whose task was lost)."""
    with atomic(SERVICE):
        intent = PaymentIntent.objects.select_for_update().filter(order_id=request.order_id).first()
        if intent is None:
            try:
                with atomic(SERVICE):
                    intent = PaymentIntent.objects.create(
                        order_id=request.order_id,
                        order_number=request.order_number,
                        customer_id=request.customer_id,
                        amount=request.amount,
                        currency=request.currency,
                        idempotency_key=request.idempotency_key,
                        provider=get_provider().name,
                    )
            except IntegrityError:
                # Either a concurrent delivery created this order's intent first, or the key
                # belongs to another order (a producer bug: refusing it protects that payment).
                intent = PaymentIntent.objects.select_for_update().filter(order_id=request.order_id).first()
                if intent is None:
                    logger.error(
                        "payment.requested for order %s reuses another order's idempotency key; ignored",
                        request.order_id,
                    )
                    return None
        if intent.is_final:
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
            _fail(
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
        intent = PaymentIntent.objects.select_for_update().filter(pk=intent_id).first()
        if intent is None:
            logger.error("charge of unknown payment intent %s skipped", intent_id)
            return Outcome.DONE
        if intent.is_final:
            return Outcome.DONE
        intent.attempts += 1
        try:
            result = provider.charge(
                amount=intent.amount,
                currency=intent.currency,
                payment_method_token=payment_method_token,
                idempotency_key=intent.idempotency_key,
            )
        except PaymentDeclined as declined:
            _fail(
                intent,
                failure_code=declined.code,
                reason_code=DECLINE_REASONS.get(declined.code, contract.REASON_DECLINED),
                message=declined.message,
            )
            return Outcome.DONE
        except TransientProviderError as error:
            return _charge_attempt_failed(intent, error)
        except ProviderError as error:
            _fail(intent, failure_code=error.code, reason_code=contract.REASON_PROVIDER_ERROR, message=error.message)
            return Outcome.DONE
        except Exception as error:
            # An error the adapter did not map: retrying with the same key cannot charge twice.
            logger.exception("provider %s raised an unmapped error charging %s", provider.name, intent.id)
            return _charge_attempt_failed(intent, error)

        Charge.objects.create(
            intent=intent,
            provider=provider.name,
            provider_charge_id=result.charge_id,
            amount=result.amount,
            currency=result.currency,
        )
        intent.status = PaymentIntent.Status.SUCCEEDED
        intent.provider_charge_id = result.charge_id
        intent.card_brand = result.card_brand[:20]
        intent.card_last4 = result.card_last4[-4:]
        intent.failure_code = intent.failure_message = ""
        intent.save()
        _publish_succeeded(intent)
        logger.info("payment %s for order %s captured", intent.id, intent.order_id)
        return Outcome.DONE


def _charge_attempt_failed(intent: PaymentIntent, error: Exception) -> Outcome:
    intent.last_error = f"{type(error).__name__}: {error}"[:2000]
    intent.save(update_fields=["attempts", "last_error", "updated_at"])
    logger.warning("charge of %s failed transiently (attempt %s): %s", intent.id, intent.attempts, error)
    return Outcome.RETRY


def payment_charge_give_up(*, intent_id: uuid.UUID) -> None:
    """After the last retry: the payment fails with provider_error (the order is cancelled)."""
    with atomic(SERVICE):
        intent = PaymentIntent.objects.select_for_update().filter(pk=intent_id).first()
        if intent is None or intent.is_final:
            return
        _fail(
            intent,
            failure_code="provider_unavailable",
            reason_code=contract.REASON_PROVIDER_ERROR,
            message=GIVE_UP_MESSAGE,
        )


# --- Refunds -----------------------------------------------------------------------------------


def _enqueue_refund(refund: Refund) -> None:
    from apps.core.tasks import enqueue
    from apps.payments.tasks import refund_payment

    enqueue(SERVICE, refund_payment, refund_pk=str(refund.pk))


def _refund_refusal(*, intent: PaymentIntent, charge: Charge, amount: Decimal | None, currency: str) -> str | None:
    """Why this refund cannot be made (a reason code), or None. Pending refunds count against
    what is left, so two refunds in flight cannot together exceed the capture."""
    if amount is None:
        return contract.REFUND_REASON_INVALID_AMOUNT
    if currency != intent.currency:
        return contract.REFUND_REASON_CURRENCY_MISMATCH
    committed = intent.refunds.filter(status__in=[Refund.Status.PENDING, Refund.Status.SUCCEEDED]).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0.00")
    if amount > charge.amount - committed:
        return contract.REFUND_REASON_EXCEEDS_CAPTURE
    return None


REFUSAL_MESSAGES = {
    contract.REFUND_REASON_NOT_CAPTURED: "The order has no captured payment to refund.",
    contract.REFUND_REASON_INVALID_AMOUNT: "The refund amount is not a positive amount of money.",
    contract.REFUND_REASON_CURRENCY_MISMATCH: "The refund currency differs from the payment's.",
    contract.REFUND_REASON_EXCEEDS_CAPTURE: "The refund exceeds what is left of the captured amount.",
}


def refund_request(
    *, order_id: uuid.UUID, refund_id: str, amount: Decimal | None, currency: str, reason: str = ""
) -> Refund | None:
    """Record a refund orders asked for (once per refund id) and enqueue it, or refuse it.

    A refusal (nothing captured, over the remaining amount, another currency) changes no money:
    it is recorded as a rejected refund and announced as payment.refund_failed."""
    with atomic(SERVICE):
        # The intent's lock serialises refunds of one payment, so the remaining amount holds.
        intent = PaymentIntent.objects.select_for_update().filter(order_id=order_id).first()
        existing = Refund.objects.filter(refund_id=refund_id).first()
        if existing is not None:
            if existing.status == Refund.Status.PENDING:
                _enqueue_refund(existing)
            return existing
        if intent is None:
            logger.warning("refund %s for order %s, which has no payment, refused", refund_id, order_id)
            _publish_refund_failed(
                order_id=order_id,
                intent=None,
                refund_id=refund_id,
                amount=amount,
                currency=currency,
                reason_code=contract.REFUND_REASON_NOT_CAPTURED,
                message=REFUSAL_MESSAGES[contract.REFUND_REASON_NOT_CAPTURED],
            )
            return None
        charge = Charge.objects.select_for_update().filter(intent=intent).first()
        if intent.status != PaymentIntent.Status.SUCCEEDED or charge is None:
            refusal = contract.REFUND_REASON_NOT_CAPTURED
        else:
            refusal = _refund_refusal(intent=intent, charge=charge, amount=amount, currency=currency)
        refund = Refund.objects.create(
            refund_id=refund_id,
            intent=intent,
            charge=charge,
            amount=amount if amount is not None else Decimal("0.00"),
            currency=currency,
            reason=reason[:255],
            status=Refund.Status.REJECTED if refusal else Refund.Status.PENDING,
            failure_code=refusal or "",
            failure_message=REFUSAL_MESSAGES[refusal] if refusal else "",
        )
        if refusal:
            logger.warning("refund %s for order %s refused: %s", refund_id, order_id, refusal)
            _publish_refund_failed(
                order_id=order_id,
                intent=intent,
                refund_id=refund_id,
                amount=amount,
                currency=currency,
                reason_code=refusal,
                message=refund.failure_message,
            )
            return refund
        _enqueue_refund(refund)
        return refund


def _apply_refund(charge: Charge, amount: Decimal) -> None:
    charge.amount_refunded += amount
    fully = charge.amount_refunded >= charge.amount
    charge.status = Charge.Status.REFUNDED if fully else Charge.Status.PARTIALLY_REFUNDED
    charge.save(update_fields=["amount_refunded", "status", "updated_at"])


def _refund_fail(refund: Refund, *, failure_code: str, reason_code: str, message: str) -> None:
    refund.status = Refund.Status.FAILED
    refund.failure_code = failure_code[:50]
    refund.failure_message = message[:255]
    refund.save(update_fields=["status", "failure_code", "failure_message", "attempts", "last_error", "updated_at"])
    _publish_refund_failed(
        order_id=refund.intent.order_id,
        intent=refund.intent,
        refund_id=refund.refund_id,
        amount=refund.amount,
        currency=refund.currency,
        reason_code=reason_code,
        message=refund.failure_message,
    )


def refund_execute(*, refund_pk: uuid.UUID) -> Outcome:
    """Refund a pending refund at the provider (idempotency key: orders' refund id) and record
    it with payment.refunded. The charge stays locked for the call, so a provider webhook about
    this very refund waits and then finds it recorded."""
    provider = get_provider()
    with atomic(SERVICE):
        refund = Refund.objects.select_for_update().select_related("intent").filter(pk=refund_pk).first()
        if refund is None or refund.status != Refund.Status.PENDING:
            return Outcome.DONE
        charge = Charge.objects.select_for_update().get(pk=refund.charge_id)
        refund.attempts += 1
        try:
            result = provider.refund(
                charge_id=charge.provider_charge_id,
                amount=refund.amount,
                currency=refund.currency,
                idempotency_key=refund.refund_id,
            )
        except TransientProviderError as error:
            return _refund_attempt_failed(refund, error)
        except ProviderError as error:
            _refund_fail(
                refund,
                failure_code=error.code,
                reason_code=contract.REFUND_REASON_PROVIDER_DECLINED,
                message=error.message,
            )
            return Outcome.DONE
        except Exception as error:
            logger.exception("provider %s raised an unmapped error refunding %s", provider.name, refund.refund_id)
            return _refund_attempt_failed(refund, error)
        refund.status = Refund.Status.SUCCEEDED
        refund.provider_refund_id = result.refund_id
        refund.save()
        _apply_refund(charge, refund.amount)
        _publish_refunded(refund)
        logger.info("refund %s of payment %s done", refund.refund_id, refund.intent_id)
        return Outcome.DONE


def _refund_attempt_failed(refund: Refund, error: Exception) -> Outcome:
    refund.last_error = f"{type(error).__name__}: {error}"[:2000]
    refund.save(update_fields=["attempts", "last_error", "updated_at"])
    logger.warning("refund %s failed transiently (attempt %s): %s", refund.refund_id, refund.attempts, error)
    return Outcome.RETRY


def refund_give_up(*, refund_pk: uuid.UUID) -> None:
    with atomic(SERVICE):
        refund = Refund.objects.select_for_update().select_related("intent").filter(pk=refund_pk).first()
        if refund is None or refund.status != Refund.Status.PENDING:
            return
        _refund_fail(
            refund,
            failure_code="provider_unavailable",
            reason_code=contract.REFUND_REASON_PROVIDER_ERROR,
            message="The payment provider could not be reached; nothing was refunded.",
        )


# --- Provider webhooks -------------------------------------------------------------------------


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
    _apply_refund(charge, amount)
    _publish_refunded(refund)
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
    _fail(
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
        handler = WEBHOOK_HANDLERS.get(event_type)
        # Providers send many event types; those payments does not act on are acknowledged.
        event.outcome = handler(provider=provider, data=data) if handler else "ignored"
        event.save(update_fields=["outcome"])
    logger.info("webhook %s %s from %s: %s", event_type, event_id, provider, event.outcome)
    return event
