"""Refunds orders asks for: checked against what is left of the capture, made at the provider by a
task, and announced as payment.refunded or payment.refund_failed."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.db.models import Sum

from apps.core.db import atomic
from apps.core.events import publish_about_customer
from apps.payments.contracts import events as contract
from apps.payments.models import Charge, PaymentIntent, Refund
from apps.payments.providers import ProviderError, TransientProviderError, get_provider
from apps.payments.providers.measured import provider_call
from apps.payments.services.common import PRODUCER, SERVICE, Outcome, customer_ref

logger = logging.getLogger(__name__)


def publish_refunded(refund: Refund) -> None:
    payload = contract.PaymentRefunded(
        order_id=str(refund.intent.order_id),
        payment_id=str(refund.intent_id),
        refund_id=refund.refund_id,
        customer_id=customer_ref(refund.intent),
        amount=str(refund.amount),
        currency=refund.currency,
    )
    publish_about_customer(
        producer=PRODUCER, event_type=contract.PAYMENT_REFUNDED, payload=payload, guest_version=contract.GUEST_VERSION
    )


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
        customer_id=customer_ref(intent) if intent else "",
        amount=str(amount) if amount is not None else "",
        currency=currency,
        reason_code=reason_code,
        message=message,
    )
    publish_about_customer(
        producer=PRODUCER,
        event_type=contract.PAYMENT_REFUND_FAILED,
        payload=payload,
        guest_version=contract.GUEST_VERSION,
    )


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


def apply_refund(charge: Charge, amount: Decimal) -> None:
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
            with provider_call("refund", provider=provider.name):
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
        apply_refund(charge, refund.amount)
        publish_refunded(refund)
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
