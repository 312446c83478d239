"""Errors of the payments API, each rendered as a problem body with a stable code."""

from __future__ import annotations

from apps.core.exceptions import ApplicationError, Conflict, NotFound, Unauthorized, UnprocessableEntity


class WebhookSignatureInvalid(Unauthorized):
    default_code = "webhook_signature_invalid"
    default_detail = "The webhook signature is missing or does not match."


class WebhookTimestampExpired(Unauthorized):
    default_code = "webhook_timestamp_expired"
    default_detail = "The webhook signature's timestamp is outside the accepted window."


class WebhookReplayed(Conflict):
    default_code = "webhook_replayed"
    default_detail = "This webhook event was already received."


class WebhookPayloadInvalid(ApplicationError):
    default_code = "webhook_payload_invalid"
    default_detail = "The webhook body is not a valid event."


class WebhookProviderUnknown(NotFound):
    default_code = "webhook_provider_unknown"
    default_detail = "No payment provider of that name is configured."


class WebhookUnprocessable(UnprocessableEntity):
    default_code = "webhook_unprocessable"
    default_detail = "The webhook event does not match what payments knows."


class PaymentNotFound(NotFound):
    default_code = "payment_not_found"
    default_detail = "No such payment."
