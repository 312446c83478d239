"""Inbound events of the payments service (thin: each calls a service).

Handlers never raise for a request that can never succeed: in the all-in-one shape that would
stall the producer's outbox, and over SQS it would only fill the dead-letter queue. Transient
provider trouble is retried by the charge and refund tasks, not by redelivering the event."""

from __future__ import annotations

import logging
import uuid

from apps.core.events import Envelope, event_handler
from apps.payments.contracts import events as contract
from apps.payments.models import CaptureRequest
from apps.payments.services import captures, charges, common, refunds

logger = logging.getLogger(__name__)


@event_handler("payments", contract.PAYMENT_REQUESTED, versions=(1, contract.GUEST_VERSION))
def on_payment_requested(envelope: Envelope) -> None:
    request = charges.payment_request_parse(envelope.payload)
    if request is not None:
        charges.payment_request(request=request)


@event_handler("payments", contract.REFUND_REQUESTED)
def on_refund_requested(envelope: Envelope) -> None:
    payload = envelope.payload
    try:
        order_id = uuid.UUID(str(payload["order_id"]))
        refund_id = str(payload["refund_id"] or "").strip()
    except (KeyError, TypeError, ValueError):
        logger.error("refund.requested %s with an unusable payload ignored", envelope.id)
        return
    if not refund_id or len(refund_id) > 100:
        logger.error("refund.requested %s for order %s has no usable refund id; ignored", envelope.id, order_id)
        return
    refunds.refund_request(
        order_id=order_id,
        refund_id=refund_id,
        amount=common.parse_amount(payload.get("amount")),
        currency=common.parse_currency(payload.get("currency")) or "",
        reason=str(payload.get("reason") or ""),
    )


def _capture_request(envelope: Envelope, kind: str) -> None:
    payload = envelope.payload
    try:
        order_id = uuid.UUID(str(payload["order_id"]))
        request_id = str(payload["request_id"] or "").strip()
    except (KeyError, TypeError, ValueError):
        logger.error("%s %s with an unusable payload ignored", envelope.type, envelope.id)
        return
    if not request_id or len(request_id) > 100:
        logger.error("%s %s for order %s has no usable request id; ignored", envelope.type, envelope.id, order_id)
        return
    captures.capture_request(
        order_id=order_id,
        request_id=request_id,
        kind=kind,
        amount=common.parse_amount(payload.get("amount")),
        currency=common.parse_currency(payload.get("currency")) or "",
        reason=str(payload.get("reason") or ""),
    )


@event_handler("payments", contract.PAYMENT_CAPTURE_REQUESTED)
def on_capture_requested(envelope: Envelope) -> None:
    _capture_request(envelope, CaptureRequest.Kind.CAPTURE)


@event_handler("payments", contract.PAYMENT_RELEASE_REQUESTED)
def on_release_requested(envelope: Envelope) -> None:
    _capture_request(envelope, CaptureRequest.Kind.RELEASE)
