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


class PaymentMethodDeclined(ApplicationError):
    """402: the provider declined the new payment method; `decline_code` says why. The order can
    still be paid with another method until its deadline."""

    status_code = 402
    default_code = "payment_declined"
    default_detail = "The payment method was declined; the order can be paid with another one."


class PaymentMethodInvalid(UnprocessableEntity):
    default_code = "invalid_payment_method"
    default_detail = "The provider does not know this payment method (made up, or expired)."


class PaymentNotRetryable(Conflict):
    default_code = "payment_not_retryable"
    default_detail = "This payment cannot be paid again now (it succeeded, or an attempt is still running)."


class PaymentDeadlinePassed(Conflict):
    default_code = "payment_deadline_passed"
    default_detail = "The time to pay for this order has passed; the order is cancelled."


class PaymentReturnUnknown(NotFound):
    default_code = "payment_return_unknown"
    default_detail = "No payment waits for this PaymentIntent and client secret."


class PaymentProviderUnavailable(ApplicationError):
    status_code = 503
    default_code = "payment_provider_unavailable"
    default_detail = "The payment provider cannot answer now; no payment was taken. Try again shortly."
