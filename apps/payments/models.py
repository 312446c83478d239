"""Models of the payments service: payment intents (one per order) with their charge and refunds,
received provider webhooks, the outbox/inbox, and the sandbox provider's own books.

No card number is stored anywhere: a charge keeps only what the provider reports back (the card
brand and last four digits), and the shopper's payment method token is never persisted."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q

from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.currencies import currency_validator
from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes

MONEY = {"max_digits": 12, "decimal_places": 2}


class PaymentIntent(models.Model):
    """The payment of one order: created from payment.requested, final once charged or failed.

    The shopper may pay again after a failure (or instead of an authentication they abandoned)
    until `pay_by`: each try is an attempt with its own provider object and idempotency key
    (`attempt_key`); the row always describes the latest attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Waiting for the shopper (3-D Secure)"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Attention(models.TextChoices):
        """Why staff must look at this payment (set by the provider's word; never cleared by it)."""

        NONE = "", "Nothing to look at"
        AMOUNT_MISMATCH = "amount_mismatch", "The provider reports another amount or currency"
        PAID_AFTER_FAILURE = "paid_after_failure", "Money taken after the payment was reported failed"
        DISPUTED = "disputed", "The shopper disputed the charge"
        CAPTURE_FAILED = "capture_failed", "The capture at shipment failed: goods shipped, nothing taken"
        AUTHORIZATION_EXPIRED = "authorization_expired", "The authorization expired or was cancelled before capture"
        DUPLICATE_PAYMENT = "duplicate_payment", "A second attempt was paid or authorized too (given back at once)"

    class CaptureMethod(models.TextChoices):
        AUTOMATIC = "automatic", "Captured with the charge"
        MANUAL = "manual", "Authorized now, captured at shipment"

    class CaptureStatus(models.TextChoices):
        """Where a manual-capture payment stands (blank for automatic capture)."""

        NONE = "", "—"
        AUTHORIZED = "authorized", "Authorized, not captured"
        CAPTURED = "captured", "Captured"
        RELEASED = "released", "Released (nothing captured)"
        FAILED = "failed", "Capture failed"
        EXPIRED = "expired", "Authorization expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.UUIDField(unique=True)
    order_number = models.CharField(max_length=64, blank=True)
    customer_id = models.UUIDField(null=True, blank=True)  # None: a guest order's payment
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Orders' key for this payment; sent to the provider so a retried charge is never doubled.
    idempotency_key = models.CharField(max_length=255, unique=True)
    provider = models.CharField(max_length=50)
    provider_charge_id = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    # What the provider reports about the card; never the number itself.
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Calls made to the provider for this charge.")
    last_error = models.TextField(blank=True)
    attention = models.CharField(max_length=30, choices=Attention.choices, blank=True, default="", db_default="")
    attention_detail = models.CharField(max_length=255, blank=True, default="", db_default="")
    # Orders' choice per payment (payment.requested): with "manual" a succeeded intent holds an
    # authorization, and the Charge row is made only when it is captured (services/captures.py).
    capture_method = models.CharField(
        max_length=10, choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC, db_default="automatic"
    )
    capture_status = models.CharField(
        max_length=12, choices=CaptureStatus.choices, blank=True, default="", db_default=""
    )
    # The shopper-present payment: which attempt this is (1 for the checkout's), the provider's
    # object for it (Stripe's PaymentIntent; known from the moment it asks for the shopper), the
    # SHA-256 of its client secret (the shopper's return proves itself with the secret, which is
    # never stored), and orders' deadline for paying.
    attempt = models.PositiveIntegerField(default=1, db_default=1)
    provider_intent_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    client_secret_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    pay_by = models.DateTimeField(null=True, blank=True)
    # The SHA-256 of the order's retry key (orders makes the key and shows it only in the order's
    # detail): proof that a caller without an account, a guest, may pay the order again.
    retry_key_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer_id", "-created_at"], name="payments_intent_customer"),
            models.Index(fields=["provider_intent_id"], name="payments_intent_provider_obj"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_intent_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "requires_action", "succeeded", "failed"]),
                name="payments_intent_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_number or self.order_id} {self.amount} {self.currency} ({self.status})"

    @property
    def is_final(self) -> bool:
        """Succeeded, or failed (a failed payment may still get a new attempt from the shopper)."""
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def attempt_key(self) -> str:
        """The idempotency key of the current attempt at the provider: orders' key for the first
        (as before attempts existed), `<key>-<n>` for the n-th."""
        return self.idempotency_key if self.attempt == 1 else f"{self.idempotency_key}-{self.attempt}"


class RequestStatus(models.TextChoices):
    """Where one of orders' requests (a refund; a capture or release) stands: rejected by
    payments before any provider call, or failed at the provider."""

    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


class Charge(models.Model):
    """A successful capture at the provider (a declined attempt leaves no charge)."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    intent = models.OneToOneField(PaymentIntent, on_delete=models.PROTECT, related_name="charge")
    provider = models.CharField(max_length=50)
    provider_charge_id = models.CharField(max_length=255)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    amount_refunded = models.DecimalField(**MONEY, default=Decimal("0.00"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUCCEEDED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_charge_id"], name="payments_charge_provider_id"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="payments_charge_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_charge_id} {self.amount} {self.currency}"

    @property
    def amount_refundable(self) -> Decimal:
        return self.amount - self.amount_refunded


class Refund(models.Model):
    """A refund of a payment: asked for by orders (refund.requested) or made at the provider and
    learnt by webhook. Refused and failed requests are kept too: they are the refund history."""

    Status = RequestStatus

    class Source(models.TextChoices):
        ORDERS = "orders", "Requested by orders"
        PROVIDER = "provider", "Made at the provider"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Orders' refund id: the idempotency key both here (one refund per id) and at the provider.
    refund_id = models.CharField(max_length=100, unique=True)
    intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="refunds")
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="refunds", null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ORDERS)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    provider_refund_id = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="payments_refund_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.refund_id} {self.amount} {self.currency} ({self.status})"


class CaptureRequest(models.Model):
    """Orders' request to capture part or all of an authorization (the order shipped), or to
    release it whole (the order was cancelled before shipping). The provider allows one capture
    per authorization: a second request is rejected. Failures are kept: they are the history."""

    class Kind(models.TextChoices):
        CAPTURE = "capture", "Capture"
        RELEASE = "release", "Release"

    Status = RequestStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Orders' id for the request: unique here, and the idempotency key of the provider call.
    request_id = models.CharField(max_length=100, unique=True)
    intent = models.ForeignKey(PaymentIntent, on_delete=models.PROTECT, related_name="capture_requests")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)  # to capture; for a release, what the authorization held
    currency = models.CharField(max_length=3, validators=[currency_validator])
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=50, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payments_capture_amount_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.status})"


class WebhookEvent(models.Model):
    """A provider webhook that was verified and handled. The unique provider event id is the
    replay protection: it is written in the same transaction as the webhook's effect."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=50)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    outcome = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="payments_webhook_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class ReconciliationCursor(models.Model):
    """Where the reconciliation with a provider starts its next listing (the provider's creation
    time, unix seconds): the earliest object still unsettled, or just after the newest seen."""

    provider = models.CharField(max_length=50, unique=True)
    created_gte = models.BigIntegerField(default=0)
    ran_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.provider} from {self.created_gte}"


class ProviderDrift(models.Model):
    """A difference the reconciliation found between the provider's books and payments': what it
    repaired (a lost webhook or charge answer) and what staff must settle by hand."""

    class Kind(models.TextChoices):
        MISSED_SUCCESS = "missed_success", "A success payments had not recorded (repaired)"
        MISSED_FAILURE = "missed_failure", "A failure payments had not recorded (repaired)"
        MISSED_REFUND = "missed_refund", "A refund payments had not recorded (repaired)"
        UNKNOWN_PAYMENT = "unknown_payment", "A PaymentIntent of ShopStack's with no payment here"
        NEEDS_STAFF = "needs_staff", "A difference left to staff (the payment is flagged)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=50)
    object_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    intent = models.ForeignKey(PaymentIntent, null=True, blank=True, on_delete=models.PROTECT, related_name="drifts")
    detail = models.CharField(max_length=255, blank=True)
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-found_at"]
        constraints = [
            # One row per object and kind: a drift seen again on the next run is not repeated.
            models.UniqueConstraint(fields=["provider", "object_id", "kind"], name="payments_drift_once"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.object_id} {self.kind}"


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("payments")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


# --- The sandbox provider's books (apps.payments.providers.sandbox) ------------------------------
# They stand in for the provider's own database. Being in the payments database they commit with
# the caller's transaction, which a real provider would not; the services commit every provider
# outcome (success, decline, transient error) so the sandbox behaves like an external system.


class SandboxCharge(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Waiting for 3-D Secure"
        SUCCEEDED = "succeeded", "Succeeded"
        DECLINED = "declined", "Declined"
        AUTHORIZED = "authorized", "Authorized (manual capture)"
        CANCELED = "canceled", "Cancelled (released, expired or abandoned)"

    charge_id = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    decline_code = models.CharField(max_length=50, blank=True)
    # How many times this key met a simulated outage (tok_transient).
    transient_failures = models.PositiveIntegerField(default=0)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    amount_refunded = models.DecimalField(**MONEY, default=Decimal("0.00"))
    # Manual capture: what was captured (None: the whole amount, with the charge).
    amount_captured = models.DecimalField(**MONEY, null=True, blank=True)
    capture_key = models.CharField(max_length=255, blank=True, default="", db_default="")
    # 3-D Secure (tok_3ds_required, tok_3ds_fail): the secret the shopper's return carries, where
    # the simulated bank sends the shopper back, and what it answers (succeeded or a decline code).
    client_secret = models.CharField(max_length=100, blank=True, default="", db_default="")
    return_url = models.TextField(blank=True, default="", db_default="")
    authentication_outcome = models.CharField(max_length=50, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.charge_id} ({self.outcome})"

    @property
    def captured(self) -> Decimal:
        return self.amount if self.amount_captured is None else self.amount_captured


class SandboxRefund(models.Model):
    refund_id = models.CharField(max_length=64, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.refund_id


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass
