"""Authorize now, capture later: a payment orders asked for with capture "manual" is only
authorized at checkout (payment.authorized); orders later asks for one capture of what shipped
(payment.capture_requested: the provider releases the rest) or for the whole authorization to be
let go (payment.release_requested). Each request runs in a task with the request's id as the
provider's idempotency key, like a refund; its outcome is payment.captured, payment.released or
payment.capture_failed. An authorization that expires or is cancelled at the provider unasked is
recorded, flagged for staff and announced as payment.capture_failed (authorization_expired).

The Charge row (what the money invariant counts) is made only when money is captured."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from apps.core.db import atomic
from apps.core.events import publish
from apps.payments.contracts import events as contract
from apps.payments.models import CaptureRequest, Charge, PaymentIntent
from apps.payments.providers import (
    AuthorizationExpired,
    ChargeResult,
    ProviderError,
    TransientProviderError,
    get_provider,
)
from apps.payments.providers.measured import provider_call
from apps.payments.services.attempts import attempt_abandon, duplicate_refund
from apps.payments.services.charges import flag
from apps.payments.services.common import PRODUCER, SERVICE, Outcome

logger = logging.getLogger(__name__)
CS = PaymentIntent.CaptureStatus
PROVIDER_CAPTURE_PREFIX = "provider:"


def _publish(event_type: str, payload: object) -> None:
    publish(producer=PRODUCER, event_type=event_type, payload=payload)


def _publish_capture_failed(
    intent: PaymentIntent, *, capture_id: str, amount: Decimal, reason_code: str, message: str
) -> None:
    _publish(
        contract.PAYMENT_CAPTURE_FAILED,
        contract.PaymentCaptureFailed(
            order_id=str(intent.order_id),
            payment_id=str(intent.id),
            capture_id=capture_id,
            amount=str(amount),
            currency=intent.currency,
            reason_code=reason_code,
            message=message[:255],
        ),
    )


# --- What the provider reports (the charge's answer, a webhook, the reconciliation) ----------------


def manual_payment_record(intent: PaymentIntent, *, result: ChargeResult) -> str:
    """A locked manual-capture payment, as the provider reports it: authorized (recorded once and
    announced as payment.authorized), or captured (by payments' own capture, already recorded, or
    at the provider's dashboard: recorded as a capture). Another attempt's authorization, once
    one is recorded, is a duplicate: let go at once."""
    if intent.capture_status and result.charge_id != intent.provider_charge_id:
        return _duplicate_release(intent, result)
    if result.currency != intent.currency or result.amount > intent.amount or result.amount <= 0:
        flag(
            intent,
            attention=PaymentIntent.Attention.AMOUNT_MISMATCH,
            detail=f"{result.charge_id}: {result.amount} {result.currency}, not {intent.amount} {intent.currency}",
        )
        return "flagged_amount_mismatch"
    if not result.captured:
        return _authorization_record(intent, result=result)
    if intent.capture_status == CS.CAPTURED:
        return "already_recorded"
    pending = intent.capture_requests.filter(status=CaptureRequest.Status.PENDING, kind=CaptureRequest.Kind.CAPTURE)
    request = pending.first()
    if request is None:
        if not intent.capture_status:
            # Captured before payments heard of the authorization (its answer was lost).
            _authorization_record(intent, result=result)
        request = CaptureRequest.objects.create(
            request_id=f"{PROVIDER_CAPTURE_PREFIX}{result.charge_id}"[:100],
            intent=intent,
            kind=CaptureRequest.Kind.CAPTURE,
            amount=result.amount,
            currency=result.currency,
            reason="Captured at the provider.",
        )
    _capture_succeeded(intent, request, amount=result.amount)
    return "capture_recorded"


def _duplicate_release(intent: PaymentIntent, result: ChargeResult) -> str:
    """Another attempt of the locked payment was authorized after one was recorded (the shopper
    completed an abandoned 3-D Secure whose cancellation had failed, a race the provider allows):
    cancel it at the provider, so it is never captured, and flag the payment for staff. Under
    one key per provider object, a repeated report cancels nothing twice. One captured already
    (at the provider's dashboard) is refunded, as with capture at confirmation."""
    if result.captured:
        return duplicate_refund(intent, result)
    provider = get_provider()
    try:
        with provider_call("cancel", provider=provider.name):
            provider.cancel(charge_id=result.charge_id, idempotency_key=f"duplicate-{result.charge_id}")
    except TransientProviderError:
        raise  # the webhook is delivered again, the reconciliation lists it again
    except ProviderError as error:
        flag(
            intent,
            attention=PaymentIntent.Attention.DUPLICATE_PAYMENT,
            detail=f"{result.charge_id}: {result.amount} {result.currency} authorized, not released ({error.code})",
        )
        return "duplicate_not_released"
    flag(
        intent,
        attention=PaymentIntent.Attention.DUPLICATE_PAYMENT,
        detail=f"{result.charge_id}: {result.amount} {result.currency} authorized too, released",
    )
    return "duplicate_released"


def _authorization_record(intent: PaymentIntent, *, result: ChargeResult) -> str:
    if result.amount != intent.amount:
        flag(
            intent,
            attention=PaymentIntent.Attention.AMOUNT_MISMATCH,
            detail=f"{result.charge_id}: authorized {result.amount} {result.currency}, not {intent.amount}",
        )
        return "flagged_amount_mismatch"
    if intent.capture_status:
        return "already_recorded"
    outcome = "payment_authorized"
    if intent.status == PaymentIntent.Status.FAILED:
        # As charge_record: announced all the same, so orders (whose order is cancelled by now)
        # asks for the authorization to be released; staff see the flag.
        flag(intent, attention=PaymentIntent.Attention.PAID_AFTER_FAILURE, detail=result.charge_id)
        outcome = "authorized_after_failure"
    intent.status = PaymentIntent.Status.SUCCEEDED
    intent.capture_status = CS.AUTHORIZED
    intent.provider_charge_id = result.charge_id
    intent.card_brand = result.card_brand[:20]
    intent.card_last4 = result.card_last4[-4:]
    intent.failure_code = intent.failure_message = ""
    superseded = intent.provider_intent_id if intent.provider_intent_id not in ("", result.charge_id) else ""
    intent.provider_intent_id = result.charge_id
    intent.save()
    if superseded:
        # An earlier attempt was authorized after all: the open one must never be completed too.
        attempt_abandon(superseded)
    _publish(
        contract.PAYMENT_AUTHORIZED,
        contract.PaymentAuthorized(
            order_id=str(intent.order_id),
            payment_id=str(intent.id),
            amount=str(intent.amount),
            currency=intent.currency,
        ),
    )
    logger.info("payment %s for order %s authorized", intent.id, intent.order_id)
    return outcome


def authorization_canceled(intent: PaymentIntent) -> str:
    """The provider reports the locked payment's authorization cancelled: the echo of payments'
    own release, or an expiry (Stripe cancels an authorization not captured within 7 days)."""
    release = intent.capture_requests.filter(
        status=CaptureRequest.Status.PENDING, kind=CaptureRequest.Kind.RELEASE
    ).first()
    if release is not None:
        _release_succeeded(intent, release)
        return "release_recorded"
    if intent.capture_status != CS.AUTHORIZED:
        return f"ignored_{intent.capture_status or intent.status}"
    _expired(intent, request=None)
    return "authorization_expired"


def _expired(intent: PaymentIntent, *, request: CaptureRequest | None) -> None:
    intent.capture_status = CS.EXPIRED
    intent.save(update_fields=["capture_status", "updated_at"])
    flag(
        intent,
        attention=PaymentIntent.Attention.AUTHORIZATION_EXPIRED,
        detail=f"{intent.provider_charge_id}: {intent.amount} {intent.currency} no longer held",
    )
    _publish_capture_failed(
        intent,
        capture_id=request.request_id if request else "",
        amount=request.amount if request else intent.amount,
        reason_code=contract.CAPTURE_REASON_AUTHORIZATION_EXPIRED,
        message="The card authorization expired before the capture; nothing was taken.",
    )


# --- Orders' requests ---------------------------------------------------------------------------------


def _enqueue(request: CaptureRequest) -> None:
    # Imported here: tasks.py imports this module.
    from apps.core.tasks import enqueue
    from apps.payments.tasks import capture_payment

    enqueue(SERVICE, capture_payment, request_pk=str(request.pk))


def _refusal(intent: PaymentIntent | None, *, kind: str, amount: Decimal | None, currency: str) -> str | None:
    if intent is None or intent.capture_status != CS.AUTHORIZED:
        return contract.CAPTURE_REASON_NOT_AUTHORIZED
    if intent.capture_requests.filter(status=CaptureRequest.Status.PENDING).exists():
        # The provider allows one capture (or one cancellation) per authorization.
        return contract.CAPTURE_REASON_NOT_AUTHORIZED
    if kind == CaptureRequest.Kind.CAPTURE and (
        amount is None or currency != intent.currency or amount > intent.amount
    ):
        return contract.CAPTURE_REASON_INVALID_AMOUNT
    return None


REFUSALS = {
    contract.CAPTURE_REASON_NOT_AUTHORIZED: "The payment holds no authorization to capture or release.",
    contract.CAPTURE_REASON_INVALID_AMOUNT: (
        "The amount is not positive, exceeds the authorization or is in another currency."
    ),
}


def capture_request(
    *, order_id: uuid.UUID, request_id: str, kind: str, amount: Decimal | None, currency: str, reason: str = ""
) -> CaptureRequest | None:
    """Record orders' request (once per request id) and enqueue it, or refuse it (recorded as
    rejected when the order has a payment, and announced as payment.capture_failed)."""
    with atomic(SERVICE):
        intent = PaymentIntent.objects.select_for_update().filter(order_id=order_id).first()
        existing = CaptureRequest.objects.filter(request_id=request_id).first()
        if existing is not None:
            if existing.status == CaptureRequest.Status.PENDING:
                _enqueue(existing)
            return existing
        refusal = _refusal(intent, kind=kind, amount=amount, currency=currency)
        if intent is None:
            logger.warning("%s %s for order %s, which has no payment, refused", kind, request_id, order_id)
            _publish(
                contract.PAYMENT_CAPTURE_FAILED,
                contract.PaymentCaptureFailed(
                    order_id=str(order_id),
                    payment_id="",
                    capture_id=request_id,
                    amount=str(amount or ""),
                    currency=currency,
                    reason_code=str(refusal),
                    message=REFUSALS[str(refusal)],
                ),
            )
            return None
        request = CaptureRequest.objects.create(
            request_id=request_id,
            intent=intent,
            kind=kind,
            amount=intent.amount if kind == CaptureRequest.Kind.RELEASE else (amount or Decimal("0")),
            currency=intent.currency,
            reason=reason[:255],
            status=CaptureRequest.Status.REJECTED if refusal else CaptureRequest.Status.PENDING,
            failure_code=refusal or "",
            failure_message=REFUSALS[refusal] if refusal else "",
        )
        if refusal:
            logger.warning("%s %s for order %s refused: %s", kind, request_id, order_id, refusal)
            _publish_capture_failed(
                intent,
                capture_id=request_id,
                amount=request.amount,
                reason_code=refusal,
                message=request.failure_message,
            )
            return request
        _enqueue(request)
        return request


def _capture_succeeded(intent: PaymentIntent, request: CaptureRequest, *, amount: Decimal) -> None:
    Charge.objects.create(
        intent=intent,
        provider=intent.provider,
        provider_charge_id=intent.provider_charge_id,
        amount=amount,
        currency=intent.currency,
    )
    intent.capture_status = CS.CAPTURED
    intent.save(update_fields=["capture_status", "updated_at"])
    request.amount = amount
    request.status = CaptureRequest.Status.SUCCEEDED
    request.save(update_fields=["amount", "status", "attempts", "last_error", "updated_at"])
    _publish(
        contract.PAYMENT_CAPTURED,
        contract.PaymentCaptured(
            order_id=str(intent.order_id),
            payment_id=str(intent.id),
            capture_id=request.request_id,
            amount=str(amount),
            currency=intent.currency,
            released=str(intent.amount - amount),
        ),
    )
    logger.info("payment %s for order %s captured %s %s", intent.id, intent.order_id, amount, intent.currency)


def _release_succeeded(intent: PaymentIntent, request: CaptureRequest) -> None:
    intent.capture_status = CS.RELEASED
    intent.save(update_fields=["capture_status", "updated_at"])
    request.status = CaptureRequest.Status.SUCCEEDED
    request.save(update_fields=["status", "attempts", "last_error", "updated_at"])
    _publish(
        contract.PAYMENT_RELEASED,
        contract.PaymentReleased(
            order_id=str(intent.order_id),
            payment_id=str(intent.id),
            release_id=request.request_id,
            amount=str(intent.amount),
            currency=intent.currency,
        ),
    )
    logger.info("payment %s for order %s released", intent.id, intent.order_id)


def _failed(intent: PaymentIntent, request: CaptureRequest, *, code: str, reason_code: str, message: str) -> None:
    request.status = CaptureRequest.Status.FAILED
    request.failure_code = code[:50]
    request.failure_message = message[:255]
    request.save(update_fields=["status", "failure_code", "failure_message", "attempts", "last_error", "updated_at"])
    if request.kind == CaptureRequest.Kind.RELEASE:
        # Nothing was taken, but the shopper's money is still held: staff let it go by hand.
        flag(intent, attention=PaymentIntent.Attention.CAPTURE_FAILED, detail=f"release {request.request_id}: {code}")
        return
    intent.capture_status = CS.FAILED
    intent.save(update_fields=["capture_status", "updated_at"])
    flag(intent, attention=PaymentIntent.Attention.CAPTURE_FAILED, detail=f"{request.request_id}: {code} {message}")
    _publish_capture_failed(
        intent, capture_id=request.request_id, amount=request.amount, reason_code=reason_code, message=message
    )


def capture_execute(*, request_pk: uuid.UUID) -> Outcome:
    """Make a pending capture or release at the provider (idempotency key: orders' request id)
    and record the outcome. The intent stays locked for the call, so the provider's webhook about
    this very capture waits and then finds it recorded."""
    provider = get_provider()
    with atomic(SERVICE):
        request = CaptureRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != CaptureRequest.Status.PENDING:
            return Outcome.DONE
        intent = PaymentIntent.objects.select_for_update().get(pk=request.intent_id)
        if intent.capture_status != CS.AUTHORIZED:
            # An expiry or a capture at the provider was recorded first: nothing left to do here.
            request.status = CaptureRequest.Status.REJECTED
            request.failure_code = contract.CAPTURE_REASON_NOT_AUTHORIZED
            request.save(update_fields=["status", "failure_code", "updated_at"])
            return Outcome.DONE
        request.attempts += 1
        try:
            if request.kind == CaptureRequest.Kind.RELEASE:
                with provider_call("cancel", provider=provider.name):
                    provider.cancel(charge_id=intent.provider_charge_id, idempotency_key=request.request_id)
            else:
                with provider_call("capture", provider=provider.name):
                    result = provider.capture(
                        charge_id=intent.provider_charge_id,
                        amount=request.amount,
                        currency=request.currency,
                        idempotency_key=request.request_id,
                    )
        except AuthorizationExpired:
            if request.kind == CaptureRequest.Kind.RELEASE:
                _release_succeeded(intent, request)
            else:
                request.status = CaptureRequest.Status.FAILED
                request.failure_code = contract.CAPTURE_REASON_AUTHORIZATION_EXPIRED
                request.save(update_fields=["status", "failure_code", "attempts", "updated_at"])
                _expired(intent, request=request)
            return Outcome.DONE
        except TransientProviderError as error:
            return _attempt_failed(request, error)
        except ProviderError as error:
            _failed(
                intent,
                request,
                code=error.code,
                reason_code=contract.CAPTURE_REASON_PROVIDER_DECLINED,
                message=error.message,
            )
            return Outcome.DONE
        except Exception as error:
            logger.exception("provider %s raised an unmapped error on %s", provider.name, request.request_id)
            return _attempt_failed(request, error)
        if request.kind == CaptureRequest.Kind.RELEASE:
            _release_succeeded(intent, request)
            return Outcome.DONE
        if (result.amount, result.currency) != (request.amount, request.currency):
            # Recorded as the provider took it (the books follow the money); staff look at why.
            flag(
                intent,
                attention=PaymentIntent.Attention.AMOUNT_MISMATCH,
                detail=f"capture {request.request_id}: {result.amount} {result.currency}, not {request.amount}",
            )
        _capture_succeeded(intent, request, amount=result.amount)
        return Outcome.DONE


def _attempt_failed(request: CaptureRequest, error: Exception) -> Outcome:
    request.last_error = f"{type(error).__name__}: {error}"[:2000]
    request.save(update_fields=["attempts", "last_error", "updated_at"])
    logger.warning(
        "%s %s failed transiently (attempt %s): %s", request.kind, request.request_id, request.attempts, error
    )
    return Outcome.RETRY


def capture_give_up(*, request_pk: uuid.UUID) -> None:
    """After the last retry: the capture (or release) fails as provider_error, flagged for staff."""
    with atomic(SERVICE):
        request = CaptureRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != CaptureRequest.Status.PENDING:
            return
        intent = PaymentIntent.objects.select_for_update().get(pk=request.intent_id)
        _failed(
            intent,
            request,
            code="provider_unavailable",
            reason_code=contract.CAPTURE_REASON_PROVIDER_ERROR,
            message="The payment provider could not be reached; nothing was captured.",
        )
