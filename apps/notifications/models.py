"""Models of the notifications service: the delivery log (one row per message per channel per
event), the shoppers' read copy of contact details, their preferences, and the outbox/inbox."""

from __future__ import annotations

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Category(models.TextChoices):
    # Transactional messages (receipts, password resets) always go; marketing ones respect the
    # shopper's opt-out.
    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class Delivery(models.Model):
    """One message to one shopper on one channel, caused by one event. Written pending in the
    handler's transaction; sent after commit, exactly once per row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        MARKETING_OPT_OUT = "marketing_opt_out", "Shopper opted out of marketing"
        NO_ADDRESS = "no_address", "No address known for the shopper"
        INVALID_PHONE = "invalid_phone", "Phone number not in international format"
        SMS_DAILY_CAP = "sms_daily_cap", "The number had its day's texts"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event_id = models.UUIDField(help_text="The event that caused this message.")
    event_type = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    template = models.CharField(max_length=50)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.TRANSACTIONAL)
    customer_id = models.UUIDField(null=True, blank=True)
    recipient = models.CharField(max_length=254, blank=True, help_text="Email address or E.164 phone number.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=30, choices=SkipReason.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    # What the templates render from; secrets (a reset link) are redacted once the message is sent.
    context = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    subject = models.CharField(max_length=255, blank=True, help_text="The subject as sent (email).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            # At-least-once event delivery must not become at-least-twice messages.
            models.UniqueConstraint(fields=["event_id", "channel"], name="notifications_delivery_once_per_channel"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="notif_delivery_status_idx"),
            models.Index(fields=["customer_id", "created_at"], name="notif_delivery_customer_idx"),
            models.Index(fields=["created_at"], name="notif_delivery_created_idx"),
        ]
        permissions = [("resend_delivery", "Can resend a failed delivery")]

    def __str__(self) -> str:
        return f"{self.template} {self.channel} to {self.recipient or '-'} ({self.status})"


class Recipient(models.Model):
    """The notifications service's read copy of a shopper's contact details, kept current from
    user.registered / user.updated, so events that carry only a customer id can be addressed."""

    customer_id = models.UUIDField(primary_key=True)
    email = models.EmailField(max_length=254, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Only a number the shopper verified (users texted it a code) is ever texted.
    phone_verified = models.BooleanField(default=False, db_default=False)
    # When the event this copy was taken from happened: an older event arriving late (queues do
    # not keep order) must not overwrite a newer copy.
    as_of = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.email or str(self.customer_id)


class Preference(models.Model):
    """A shopper's choices. No row means the defaults: marketing allowed, no SMS. Opting in to SMS
    texts only a verified phone (Recipient.phone_verified)."""

    customer_id = models.UUIDField(primary_key=True)
    marketing_opt_out = models.BooleanField(default=False)
    sms_opt_in = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"preferences of {self.customer_id}"


class SmsDailyCount(models.Model):
    """Texts recorded for one number on one day (UTC), whoever they were for: the counter the
    per-recipient daily cap (NOTIFICATIONS_SMS_DAILY_CAP) is taken from, by conditional update."""

    phone = models.CharField(max_length=16, help_text="E.164.")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["phone", "day"], name="notifications_sms_count_once_per_day")]

    def __str__(self) -> str:
        return f"{self.count} SMS to {self.phone} on {self.day}"


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("notifications")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass
