"""Writes of the notifications service: the shopper's contact copy and preferences, recording the
messages an event calls for, sending one delivery (exactly once per row), and resending failures.

An event's deliveries are recorded and then sent, once all are recorded, in the handler's own
transaction (the inbox's): the row, its outcome and the event's delivery commit together, and no
task hop stands between the event and the email. A handler that dies after a send and before its
commit rolls the row back and the redelivered event sends again, the same at-least-once a send
task had between its send and its commit; recording every row first keeps the window to the
commit itself (the call is the last thing each handler does). A transient failure commits the
attempt and leaves the retries to a task (tasks.send_delivery), as does a resend by staff."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from apps.core.db import atomic
from apps.core.sms import normalize_phone
from apps.core.tracing import SERVICE_ATTRIBUTE, tracer
from apps.notifications import messages, selectors
from apps.notifications.channels import PermanentSendError, TransientSendError, channel_get
from apps.notifications.models import Channel, Delivery, Preference, Recipient, SmsDailyCount

logger = logging.getLogger(__name__)

SERVICE = "notifications"
_ERROR_LIMIT = 2000

# --- Recipients and preferences ------------------------------------------------------------------


def recipient_upsert(
    *, customer_id: uuid.UUID, email: str, first_name: str, phone: str, phone_verified: bool, as_of: datetime
) -> Recipient | None:
    """Apply a shopper's contact details from a user event, unless a newer event already did
    (queues do not keep order). Returns the row, or None when the update was stale."""
    with atomic(SERVICE):
        recipient = Recipient.objects.select_for_update().filter(customer_id=customer_id).first()
        if recipient is None:
            try:
                with atomic(SERVICE):
                    return Recipient.objects.create(
                        customer_id=customer_id,
                        email=email,
                        first_name=first_name,
                        phone=phone,
                        phone_verified=phone_verified,
                        as_of=as_of,
                    )
            except IntegrityError:  # a concurrent event created it first: update that row
                recipient = Recipient.objects.select_for_update().get(customer_id=customer_id)
        if recipient.as_of > as_of:
            logger.info("stale contact details for customer %s ignored", customer_id)
            return None
        recipient.email, recipient.first_name, recipient.phone, recipient.as_of = email, first_name, phone, as_of
        recipient.phone_verified = phone_verified
        recipient.save()
        return recipient


def preference_update(
    *, customer_id: uuid.UUID, marketing_opt_out: bool | None = None, sms_opt_in: bool | None = None
) -> Preference:
    """Change the given choices (None leaves one as it is); creates the row on first change."""
    with atomic(SERVICE):
        preference, _ = Preference.objects.select_for_update().get_or_create(customer_id=customer_id)
        changed = []
        if marketing_opt_out is not None and preference.marketing_opt_out != marketing_opt_out:
            preference.marketing_opt_out = marketing_opt_out
            changed.append("marketing_opt_out")
        if sms_opt_in is not None and preference.sms_opt_in != sms_opt_in:
            preference.sms_opt_in = sms_opt_in
            changed.append("sms_opt_in")
        if changed:
            preference.save(update_fields=[*changed, "updated_at"])
    return preference


# --- Recording ---------------------------------------------------------------------------------


def notification_record(
    *,
    template: str,
    event_id: uuid.UUID,
    event_type: str,
    customer_id: uuid.UUID | None,
    email: str = "",
    context: dict[str, Any] | None = None,
) -> list[Delivery]:
    """Record the deliveries an event calls for, then send the pending ones (in the caller's
    transaction: see the module's docstring).

    Email goes to `email`, else to the shopper's known address; SMS only to a shopper who opted
    in and verified their phone, and is skipped once the number had its day's texts. A marketing
    message to a shopper who opted out is logged as skipped.
    Safe to call twice for one event: each (event, channel) is recorded once."""
    message = messages.template_get(template)
    recipient = selectors.recipient_get(customer_id=customer_id) if customer_id else None
    preference = selectors.preference_get(customer_id=customer_id) if customer_id else None
    context = {"first_name": recipient.first_name if recipient else "", **(context or {})}

    targets: list[tuple[str, str, str]] = []  # (channel, address, skip reason)
    if Channel.EMAIL in message.channels:
        address = email or (recipient.email if recipient else "")
        targets.append((Channel.EMAIL, address, "" if address else Delivery.SkipReason.NO_ADDRESS))
    if (
        Channel.SMS in message.channels
        and preference
        and preference.sms_opt_in
        and recipient
        and recipient.phone
        and recipient.phone_verified
    ):
        phone = normalize_phone(recipient.phone)
        targets.append((Channel.SMS, phone or recipient.phone, "" if phone else Delivery.SkipReason.INVALID_PHONE))

    deliveries = []
    # No savepoint: called in the inbox transaction, where an error rolls back the whole delivery.
    with atomic(SERVICE, savepoint=False):
        for channel, address, skip_reason in targets:
            if not skip_reason and message.is_marketing and preference and preference.marketing_opt_out:
                skip_reason = Delivery.SkipReason.MARKETING_OPT_OUT
            if not skip_reason and channel == Channel.SMS and _delivery_exists(event_id=event_id, channel=channel):
                continue  # a redelivered event: its text was counted the first time
            if not skip_reason and channel == Channel.SMS and not _sms_count_take(phone=address):
                skip_reason = Delivery.SkipReason.SMS_DAILY_CAP
            delivery = _delivery_create(
                event_id=event_id,
                event_type=event_type,
                channel=channel,
                template=message,
                customer_id=customer_id,
                recipient=address,
                skip_reason=skip_reason,
                context=context,
            )
            if delivery is not None:
                deliveries.append(delivery)
        for delivery in deliveries:
            if delivery.status == Delivery.Status.PENDING:
                _send_first(delivery)
    return deliveries


def _send_first(delivery: Delivery) -> None:
    """The first attempt of a row this transaction just recorded (no other sender can see it yet,
    so no lock); a transient failure commits the attempt and the task takes over at retry 1."""
    with tracer().start_as_current_span(
        f"send {delivery.channel}", attributes={SERVICE_ATTRIBUTE: SERVICE, "shopstack.template": delivery.template}
    ):
        retry = _attempt(delivery, final_attempt=False)
    if retry is not None:
        # Imported here: tasks imports this module for the task body.
        from apps.notifications.tasks import dispatch_retry

        dispatch_retry(delivery.id)


def _delivery_exists(*, event_id: uuid.UUID, channel: str) -> bool:
    return Delivery.objects.filter(event_id=event_id, channel=channel).exists()


def _sms_count_take(*, phone: str) -> bool:
    """Count one text to `phone` today if the day's cap allows it. Race-safe: the increment is
    one conditional UPDATE (row-locked by the database), and the day's first text inserts the
    row under a unique constraint, retrying as an update when a concurrent first text won."""
    day = timezone.now().date()
    cap = settings.NOTIFICATIONS_SMS_DAILY_CAP
    SmsDailyCount.objects.filter(phone=phone, day__lt=day).delete()  # past days count for nothing
    for _ in range(2):
        if SmsDailyCount.objects.filter(phone=phone, day=day, count__lt=cap).update(count=F("count") + 1):
            return True
        if SmsDailyCount.objects.filter(phone=phone, day=day).exists() or cap < 1:
            return False
        try:
            with atomic(SERVICE):
                SmsDailyCount.objects.create(phone=phone, day=day, count=1)
            return True
        except IntegrityError:
            continue
    return False


def _delivery_create(
    *,
    event_id: uuid.UUID,
    event_type: str,
    channel: str,
    template: messages.MessageTemplate,
    customer_id: uuid.UUID | None,
    recipient: str,
    skip_reason: str,
    context: dict[str, Any],
) -> Delivery | None:
    try:
        with atomic(SERVICE):
            delivery = Delivery.objects.create(
                event_id=event_id,
                event_type=event_type,
                channel=channel,
                template=template.name,
                category=template.category,
                customer_id=customer_id,
                recipient=recipient,
                status=Delivery.Status.SKIPPED if skip_reason else Delivery.Status.PENDING,
                skip_reason=skip_reason,
                context=_redacted(template, context) if skip_reason else context,
            )
    except IntegrityError:
        logger.info("%s %s for event %s already recorded", template.name, channel, event_id)
        return None
    if delivery.status != Delivery.Status.PENDING:
        logger.info("%s %s for event %s skipped: %s", template.name, channel, event_id, skip_reason)
    return delivery


def _dispatch(delivery: Delivery) -> None:
    # Imported here: tasks imports this module for the task body.
    from apps.notifications.tasks import dispatch

    dispatch(delivery.id)


def _redacted(template: messages.MessageTemplate, context: dict[str, Any]) -> dict[str, Any]:
    return {key: messages.REDACTED if key in template.secret_keys else value for key, value in context.items()}


# --- Sending -----------------------------------------------------------------------------------


def delivery_send(*, delivery_id: uuid.UUID, final_attempt: bool = True) -> Delivery | None:
    """Send one pending delivery. Idempotent: the row is locked for the send and only a pending
    row is sent, so a redelivered task (or two workers at once) cannot send it twice.

    A transient failure raises TransientSendError after recording the attempt (the task retries)
    unless this is the final attempt, which marks the row failed like a permanent failure."""
    with atomic(SERVICE):
        # The lock is held across the provider call on purpose: a second sender waits here and
        # then finds the row no longer pending.
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            logger.warning("delivery %s does not exist; nothing to send", delivery_id)
            return None
        if delivery.status != Delivery.Status.PENDING:
            logger.info("delivery %s is %s; not sending again", delivery_id, delivery.status)
            return delivery
        retry = _attempt(delivery, final_attempt=final_attempt)
    # Raised after the block, so the attempt is committed rather than rolled back.
    if retry is not None:
        raise retry
    return delivery


def _attempt(delivery: Delivery, *, final_attempt: bool) -> TransientSendError | None:
    """One send of a pending row the caller holds, its outcome saved; the error to retry on, if any."""
    retry: TransientSendError | None = None
    delivery.attempts += 1
    try:
        template = messages.template_get(delivery.template)
        rendered = messages.render(delivery.template, delivery.channel, delivery.context)
        provider_message_id = channel_get(delivery.channel).send(to=delivery.recipient, message=rendered)
    except TransientSendError as error:
        delivery.last_error = str(error)[:_ERROR_LIMIT]
        if final_attempt:
            delivery.status = Delivery.Status.FAILED
        else:
            retry = error
        logger.warning("delivery %s attempt %s failed: %s", delivery.id, delivery.attempts, error)
    except PermanentSendError as error:
        delivery.status = Delivery.Status.FAILED
        delivery.last_error = str(error)[:_ERROR_LIMIT]
        logger.warning("delivery %s failed permanently: %s", delivery.id, error)
    except Exception as error:
        # A bug (a broken template): the row must still end somewhere staff can see it.
        logger.exception("delivery %s failed unexpectedly", delivery.id)
        delivery.status = Delivery.Status.FAILED
        delivery.last_error = f"{type(error).__name__}: {error}"[:_ERROR_LIMIT]
    else:
        delivery.status = Delivery.Status.SENT
        delivery.provider_message_id = provider_message_id[:255]
        delivery.subject = rendered.subject[:255]
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.context = _redacted(template, delivery.context)
        logger.info(
            "delivery %s sent (%s %s)",
            delivery.id,
            delivery.template,
            delivery.channel,
            extra={"provider_message_id": provider_message_id},
        )
    delivery.save()
    return retry


def deliveries_resend(*, delivery_ids: Iterable[uuid.UUID]) -> int:
    """Give failed deliveries a new attempt through the same send path; returns how many.
    Sent and skipped ones are left alone: nothing that went out is sent twice."""
    count = 0
    with atomic(SERVICE):
        for delivery in Delivery.objects.select_for_update().filter(
            pk__in=list(delivery_ids), status=Delivery.Status.FAILED
        ):
            delivery.status = Delivery.Status.PENDING
            delivery.save(update_fields=["status", "updated_at"])
            _dispatch(delivery)
            count += 1
    return count
