"""The shopper present: a payment waiting for the shopper's authentication (3-D Secure), its outcome
read back from the provider when the shopper returns, and a new attempt with another payment
method after a decline or an abandoned authentication, until the order's deadline (`pay_by`).

Whoever learns the outcome first (the shopper's return, a webhook, the reconciliation) records it
on the locked intent, which only moves forward, so it is recorded and announced once. Each
attempt has its own idempotency key (`PaymentIntent.attempt_key`); the previous attempt is
abandoned at the provider before a new one starts, and an attempt that is paid after another one
was (a race the provider allows) is refunded at once: the shopper never pays twice."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from apps.core.db import atomic
from apps.core.events import publish
from apps.payments.contracts import events as contract
from apps.payments.errors import (
    PaymentDeadlinePassed,
    PaymentMethodDeclined,
    PaymentMethodInvalid,
    PaymentNotFound,
    PaymentNotRetryable,
    PaymentProviderUnavailable,
    PaymentReturnUnknown,
)
from apps.payments.models import PaymentIntent
from apps.payments.providers import (
    ActionRequired,
    ChargeResult,
    PaymentDeclined,
    ProviderError,
    TransientProviderError,
    get_provider,
)
from apps.payments.providers.measured import provider_call
from apps.payments.services.charges import charge_record, fail, flag, outcome_record, provider_charge
from apps.payments.services.common import DECLINE_REASONS, PRODUCER, SERVICE

logger = logging.getLogger(__name__)

S = PaymentIntent.Status
_ATTEMPT_SUFFIX = re.compile(r"^(?P<key>.+)-(?P<attempt>\d+)$")


def secret_hash(client_secret: str) -> str:
    return hashlib.sha256(client_secret.encode()).hexdigest()


def action_record(intent: PaymentIntent, action: ActionRequired) -> str:
    """The provider waits for the shopper: keep the attempt's provider object and the hash of its
    client secret, and tell orders what the shopper's client needs (payment.action_required)."""
    intent.status = S.REQUIRES_ACTION
    intent.provider_intent_id = action.intent_id
    intent.client_secret_hash = secret_hash(action.client_secret)
    intent.failure_code = intent.failure_message = ""
    intent.save()
    publish(
        producer=PRODUCER,
        event_type=contract.PAYMENT_ACTION_REQUIRED,
        payload=contract.PaymentActionRequired(
            order_id=str(intent.order_id),
            payment_id=str(intent.id),
            attempt=intent.attempt,
            client_secret=action.client_secret,
            next_action_type=action.next_action_type,
            redirect_url=action.redirect_url,
            return_url=settings.PAYMENTS_RETURN_URL,
        ),
    )
    logger.info(
        "payment %s for order %s waits for the shopper (attempt %s)", intent.id, intent.order_id, intent.attempt
    )
    return "action_required"


def decline_fail(intent: PaymentIntent, declined: PaymentDeclined) -> None:
    fail(
        intent,
        failure_code=declined.code,
        reason_code=DECLINE_REASONS.get(declined.code, contract.REASON_DECLINED),
        message=declined.message,
    )


def intent_for_provider_key(rows, key: str) -> PaymentIntent | None:
    """The intent an attempt's idempotency key belongs to (`<key>` or `<key>-<n>`)."""
    if not key:
        return None
    intent = rows.filter(idempotency_key=key).first()
    match = _ATTEMPT_SUFFIX.match(key) if intent is None else None
    if match is not None:
        intent = rows.filter(idempotency_key=match["key"], attempt__gte=int(match["attempt"])).first()
    return intent


def is_current_attempt(intent: PaymentIntent, provider_object_id: str, key: str = "") -> bool:
    """False for an older attempt's provider object (by its id, or by the attempt's key while the
    current attempt's object is not known yet): its failure or wait is stale news."""
    if intent.provider_intent_id:
        return intent.provider_intent_id == provider_object_id
    return not key or key == intent.attempt_key


def intent_refresh(intent: PaymentIntent) -> str:
    """Read the current attempt's state at the provider and record it on the locked intent."""
    if intent.status != S.REQUIRES_ACTION or not intent.provider_intent_id:
        return f"ignored_{intent.status}"
    try:
        provider = get_provider()
        with provider_call("charge_status", provider=provider.name):
            state = provider.charge_status(intent_id=intent.provider_intent_id, currency=intent.currency)
    except PaymentDeclined as declined:
        decline_fail(intent, declined)
        return "payment_failed"
    except TransientProviderError as error:
        raise PaymentProviderUnavailable() from error
    if isinstance(state, ChargeResult):
        return charge_record(intent, result=state)
    return "waiting"


def payment_return(*, payment_intent: str, client_secret: str) -> PaymentIntent:
    """The shopper is back from the provider's action (its redirect, or the client after
    Stripe.js): the client secret proves it; the outcome is read from the provider and recorded,
    unless a webhook recorded it first."""
    with atomic(SERVICE):
        intent = (
            PaymentIntent.objects.select_for_update().filter(provider_intent_id=payment_intent).first()
            if payment_intent
            else None
        )
        if (
            intent is None
            or not intent.client_secret_hash
            or not secrets.compare_digest(intent.client_secret_hash, secret_hash(client_secret))
        ):
            raise PaymentReturnUnknown()
        outcome = intent_refresh(intent)
    logger.info("shopper returned for payment %s: %s", intent.id, outcome)
    return intent


def attempt_abandon(provider_object_id: str) -> bool:
    """Cancel an open attempt at the provider; False when it could not be (it may have been
    paid: a later success of it is refunded as a duplicate)."""
    try:
        provider = get_provider()
        with provider_call("cancel", provider=provider.name):
            provider.cancel(charge_id=provider_object_id)
    except ProviderError as error:
        logger.warning("could not abandon attempt %s at the provider: %s", provider_object_id, error.code)
        return False
    return True


@dataclass(frozen=True)
class AttemptAnswer:
    """What the shopper's client gets back: the intent, and the action to complete if any."""

    intent: PaymentIntent
    client_secret: str = ""
    next_action: dict[str, str] | None = None


def may_retry(intent: PaymentIntent, *, customer_id: uuid.UUID | None, retry_key: str) -> bool:
    """Whether the caller may pay this order again: by proving the order's retry key (orders
    shows it in the order's detail, to the owner or the holder of the order's access token;
    payments holds its SHA-256), or, without a key, as the payment's signed-in shopper. A key
    sent is decisive: a wrong one opens nothing, whoever is signed in."""
    if retry_key:
        return bool(intent.retry_key_hash) and secrets.compare_digest(intent.retry_key_hash, secret_hash(retry_key))
    return customer_id is not None and intent.customer_id == customer_id


def payment_retry(
    *, order_id: uuid.UUID, payment_method_token: str, customer_id: uuid.UUID | None = None, retry_key: str = ""
) -> AttemptAnswer:
    """A new attempt with another payment method, the shopper present, before the deadline, by a
    caller `may_retry` admits (anyone else learns nothing: 404 as for an unknown order). The
    previous attempt is abandoned first (if it was paid meanwhile, that payment stands and the
    retry is refused). A decline is recorded (payment.failed: the order keeps waiting) and then
    answered as a 402 or 422 problem; an unreachable provider as a 503."""
    error: Exception | None = None
    action: ActionRequired | None = None
    with atomic(SERVICE):
        intent = PaymentIntent.objects.select_for_update().filter(order_id=order_id).first()
        if intent is None or not may_retry(intent, customer_id=customer_id, retry_key=retry_key):
            raise PaymentNotFound()
        if intent.status not in (S.FAILED, S.REQUIRES_ACTION):
            raise PaymentNotRetryable(extra={"payment_status": intent.status})
        if intent.pay_by is None or timezone.now() >= intent.pay_by:
            raise PaymentDeadlinePassed()
        # The previous attempt is closed first; one that cannot be was paid (or authorized)
        # meanwhile, perhaps: then that payment is recorded (committed), and the retry refused.
        if intent.provider_intent_id and not attempt_abandon(intent.provider_intent_id):
            intent_refresh(intent)
            if intent.status == S.SUCCEEDED:
                error = PaymentNotRetryable(extra={"payment_status": intent.status})
        if error is None:
            error, action = _attempt(intent, payment_method_token)
    if error is not None:
        raise error
    if action is None:
        return AttemptAnswer(intent=intent)
    return AttemptAnswer(
        intent=intent,
        client_secret=action.client_secret,
        next_action={"type": action.next_action_type, "redirect_url": action.redirect_url},
    )


def _attempt(intent: PaymentIntent, payment_method_token: str) -> tuple[Exception | None, ActionRequired | None]:
    """The next attempt on the locked intent: the error to answer with once it is committed, or
    the action the shopper must complete."""
    intent.attempt += 1
    intent.attempts += 1
    intent.status = S.PENDING
    intent.provider_intent_id = intent.client_secret_hash = ""
    try:
        result = provider_charge(intent, payment_method_token)
    except PaymentDeclined as declined:
        decline_fail(intent, declined)
        if declined.code == "invalid_payment_method":
            return PaymentMethodInvalid(declined.message or None), None
        return PaymentMethodDeclined(extra={"decline_code": declined.code}), None
    except ProviderError as failure:
        # Unreachable, or refused for another reason: nothing was taken on this attempt as far
        # as the provider said; if it was, the reconciliation finds it under the attempt's key.
        fail(intent, failure_code=failure.code, reason_code=contract.REASON_PROVIDER_ERROR, message=failure.message)
        return PaymentProviderUnavailable(), None
    outcome_record(intent, result)
    return None, result if isinstance(result, ActionRequired) else None


def duplicate_refund(intent: PaymentIntent, result: ChargeResult) -> str:
    """Another attempt of an already paid order went through too: give it all back at once
    (neither side's ledger counts it) and flag the payment for staff."""
    provider = get_provider()
    with provider_call("refund", provider=provider.name):
        refund = provider.refund(
            charge_id=result.charge_id,
            amount=result.amount,
            currency=result.currency,
            idempotency_key=f"duplicate-{result.charge_id}",
        )
    flag(
        intent,
        attention=PaymentIntent.Attention.DUPLICATE_PAYMENT,
        detail=f"{result.charge_id}: {result.amount} {result.currency} refunded ({refund.refund_id})",
    )
    return "duplicate_refunded"


def attempt_expire(intent: PaymentIntent) -> str:
    """The deadline passed with the shopper's action unfinished: close it at the provider so it
    can never be paid afterwards (orders has cancelled the order)."""
    if intent.status != S.REQUIRES_ACTION or intent.pay_by is None or timezone.now() < intent.pay_by:
        return "waiting"
    if not attempt_abandon(intent.provider_intent_id):
        return intent_refresh(intent)
    fail(intent, failure_code="expired", reason_code=contract.REASON_EXPIRED, message="The time to pay has passed.")
    return "expired"
