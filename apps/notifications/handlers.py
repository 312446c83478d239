"""Inbound events of the notifications service: thin, each reads its payload (the producer's
contract) and calls a service. Each runs inside the inbox transaction (apps.core.events), so the
deliveries it records and the inbox row commit together."""

from __future__ import annotations

import uuid
from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings

from apps.core.events import Envelope, event_handler
from apps.notifications import messages, services
from apps.orders.contracts import events as orders
from apps.payments.contracts import events as payments
from apps.users.contracts import events as users

SERVICE = "notifications"
Payload = TypeVar("Payload")

# Shopper-facing wording of the reasons producers give; an unknown reason is shown as it came.
CANCELLATION_REASONS = {
    "payment_failed": "we could not take payment for it",
    "stock_rejected": "some items are no longer in stock",
    "out_of_stock": "some items are no longer in stock",
    "customer_request": "you asked us to cancel it",
    "customer_cancelled": "you asked us to cancel it",
    "expired": "it was not completed in time",
    "payment_deadline": "it was not paid in time",
}
PAYMENT_FAILURES = {
    "declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "provider_error": "Our payment provider had a problem.",
    "authentication_failed": "Your bank could not confirm the payment was yours (3-D Secure).",
}


def _payload(schema: type[Payload], envelope: Envelope) -> Payload:
    """The payload as its contract's dataclass; fields a newer producer added are ignored."""
    names = {field.name for field in fields(schema)}  # type: ignore[arg-type]
    # Fields with a default were added later in the same version: an older producer may omit them.
    required = {
        field.name
        for field in fields(schema)  # type: ignore[arg-type]
        if field.default is MISSING and field.default_factory is MISSING
    }
    missing = required - envelope.payload.keys()
    if missing:
        raise ValueError(f"{envelope.type} {envelope.id} lacks {', '.join(sorted(missing))}")
    return schema(**{key: value for key, value in envelope.payload.items() if key in names})


def _order_url(order_id: str) -> str:
    return settings.SHOP_FRONTEND_URL.rstrip("/") + settings.NOTIFICATIONS_ORDER_PATH.format(order_id=order_id)


def _expiry(iso_time: str) -> str:
    """A link's expiry as the emails show it."""
    return datetime.fromisoformat(iso_time).strftime("%d %b %Y, %H:%M %Z").strip()


def _notify(envelope: Envelope, template: str, *, customer_id: str | None, email: str = "", **context: Any) -> None:
    services.notification_record(
        template=template,
        event_id=envelope.id,
        event_type=envelope.type,
        # None (version 2): a guest order; its emails go to the order's address only.
        customer_id=uuid.UUID(customer_id) if customer_id else None,
        email=email,
        context=context,
    )


OrderEvent = orders.OrderConfirmed | orders.OrderCancelled | orders.OrderShipped


def _notify_order(envelope: Envelope, template: str, data: OrderEvent, **context: Any) -> None:
    """An order event's email, to the order's shopper (None: a guest) at the order's address, with
    what every order email shows: its number and its page. A guest order's page needs its access
    token, which stays sealed here: it is opened only to render the email (messages.py lists it
    among the template's secrets)."""
    if data.sealed_access_token:
        context["access_token"] = data.sealed_access_token
    _notify(
        envelope,
        template,
        customer_id=data.customer_id,
        email=data.email,
        order_number=data.order_number,
        order_url=_order_url(data.order_id),
        **context,
    )


def _recipient_upsert(envelope: Envelope, data: users.UserRegistered | users.UserUpdated) -> None:
    """The shopper's contact details as the event has them (a stale event changes nothing)."""
    services.recipient_upsert(
        customer_id=uuid.UUID(data.customer_id),
        email=data.email,
        first_name=data.first_name,
        phone=data.phone,
        phone_verified=data.phone_verified,
        as_of=envelope.occurred_at,
    )


# --- Users ------------------------------------------------------------------------------------


@event_handler(SERVICE, users.USER_REGISTERED)
def on_user_registered(envelope: Envelope) -> None:
    data = _payload(users.UserRegistered, envelope)
    _recipient_upsert(envelope, data)
    _notify(envelope, messages.WELCOME, customer_id=data.customer_id, email=data.email)


@event_handler(SERVICE, users.USER_UPDATED)
def on_user_updated(envelope: Envelope) -> None:
    data = _payload(users.UserUpdated, envelope)
    _recipient_upsert(envelope, data)


@event_handler(SERVICE, users.PASSWORD_RESET_REQUESTED)
def on_password_reset_requested(envelope: Envelope) -> None:
    data = _payload(users.PasswordResetRequested, envelope)
    _notify(
        envelope,
        messages.PASSWORD_RESET,
        customer_id=data.customer_id,
        email=data.email,
        first_name=data.first_name,
        reset_url=data.sealed_reset_url,  # opened only to render the email
        expires_at=_expiry(data.expires_at),
    )


@event_handler(SERVICE, users.EMAIL_VERIFICATION_REQUESTED)
def on_email_verification_requested(envelope: Envelope) -> None:
    data = _payload(users.EmailVerificationRequested, envelope)
    _notify(
        envelope,
        messages.EMAIL_VERIFICATION,
        customer_id=data.customer_id,
        email=data.email,
        first_name=data.first_name,
        verify_url=data.sealed_verify_url,  # opened only to render the email
        expires_at=_expiry(data.expires_at),
    )


# --- Orders -----------------------------------------------------------------------------------


@event_handler(SERVICE, orders.ORDER_CONFIRMED, versions=(1, orders.GUEST_VERSION))
def on_order_confirmed(envelope: Envelope) -> None:
    data = _payload(orders.OrderConfirmed, envelope)
    _notify_order(
        envelope,
        messages.ORDER_CONFIRMED,
        data,
        total=data.total,
        currency=data.currency,
        lines=data.lines,
        items=data.items,
        subtotal=data.subtotal,
        discount=data.discount,
        shipping=data.shipping,
        shipping_method=data.shipping_method,
        tax=data.tax,
        prices_include_tax=data.prices_include_tax,
        reverse_charge=data.reverse_charge,
        vat_number=data.vat_number,
    )


@event_handler(SERVICE, orders.ORDER_CANCELLED, versions=(1, orders.GUEST_VERSION))
def on_order_cancelled(envelope: Envelope) -> None:
    data = _payload(orders.OrderCancelled, envelope)
    _notify_order(
        envelope,
        messages.ORDER_CANCELLED,
        data,
        # Producers may add a detail after a colon (orders: "payment_failed:declined").
        reason=CANCELLATION_REASONS.get(data.reason.split(":", 1)[0], data.reason.replace("_", " ")),
    )


@event_handler(SERVICE, orders.ORDER_SHIPPED, versions=(1, orders.GUEST_VERSION))
def on_order_shipped(envelope: Envelope) -> None:
    data = _payload(orders.OrderShipped, envelope)
    _notify_order(
        envelope,
        messages.ORDER_SHIPPED,
        data,
        carrier=data.carrier,
        tracking_number=data.tracking_number,
        tracking_url=data.tracking_url,
        # One email per parcel: which parcel, what is in it, and whether more will follow.
        parcel_number=data.parcel_number,
        complete=data.complete,
        items=[{"sku": line["sku"], "quantity": line["quantity"]} for line in _line_dicts(data.lines)],
    )


def _line_dicts(lines: list[Any]) -> list[dict[str, Any]]:
    # The payload's lines arrive as dicts (JSON); a contract dataclass is read the same way.
    return [line if isinstance(line, dict) else {"sku": line.sku, "quantity": line.quantity} for line in lines]


# --- Payments ---------------------------------------------------------------------------------


@event_handler(SERVICE, payments.PAYMENT_FAILED, versions=(1, payments.GUEST_VERSION))
def on_payment_failed(envelope: Envelope) -> None:
    data = _payload(payments.PaymentFailed, envelope)
    if data.reason_code == payments.REASON_EXPIRED:
        return  # the order's cancellation for its deadline tells the shopper
    _notify(
        envelope,
        messages.PAYMENT_FAILED,
        customer_id=data.customer_id,
        reason=PAYMENT_FAILURES.get(data.reason_code, "The payment did not go through."),
        order_url=_order_url(data.order_id),
    )


@event_handler(SERVICE, payments.PAYMENT_REFUNDED, versions=(1, payments.GUEST_VERSION))
def on_payment_refunded(envelope: Envelope) -> None:
    data = _payload(payments.PaymentRefunded, envelope)
    _notify(
        envelope,
        messages.PAYMENT_REFUNDED,
        customer_id=data.customer_id,
        amount=data.amount,
        currency=data.currency,
        order_url=_order_url(data.order_id),
    )
