"""Models of the users service: shoppers (Customer), their addresses, refresh tokens and password
reset tokens, plus the service's outbox and inbox. Staff are Django's auth.User, not Customer."""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.core.auth.revocation import AbstractTokenRevocation
from apps.core.events.models import AbstractInboxEvent, AbstractOutboxEvent, outbox_indexes

phone_validator = RegexValidator(
    regex=r"^\+?[0-9][0-9 ()\-]{5,24}$",
    message="Enter a phone number: digits, spaces, brackets and dashes, optionally starting with +.",
    code="invalid_phone",
)


def normalize_email(email: str) -> str:
    """The one spelling an email is stored and looked up in, so uniqueness ignores case."""
    return email.strip().lower()


class Customer(models.Model):
    """A shopper account. Authenticates by email + password and reaches other services only as
    the subject (`sub`) of a signed access token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Stored lowercased (a check constraint holds that), so the unique index on the field itself
    # is a case-insensitive uniqueness rule and serves the login lookup too.
    email = models.EmailField(max_length=254, unique=True)
    password = models.CharField(max_length=128)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[phone_validator])
    # Set when the shopper proved they receive texts at `phone` (a code sent to it); a changed
    # phone clears it. Notifications texts only a verified number.
    phone_verified_at = models.DateTimeField(null=True, blank=True)
    # Set when the shopper opened the link emailed to `email` (services/emails.py): only then do
    # other services trust the address as theirs (orders hands over guest orders placed with it).
    email_verified_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    last_login = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date_joined"]
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="users_customer_email_lowercase"),
        ]

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return check_password(raw_password, self.password)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def phone_verified(self) -> bool:
        return self.phone_verified_at is not None

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Address(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(max_length=50, blank=True, help_text="The shopper's name for it, e.g. Home.")
    full_name = models.CharField(max_length=200)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code, e.g. DE.")
    phone = models.CharField(max_length=32, blank=True, validators=[phone_validator])
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(is_default=True),
                name="users_address_one_default_per_customer",
            ),
        ]
        indexes = [models.Index(fields=["customer", "created_at"], name="users_address_customer_idx")]

    def __str__(self) -> str:
        return f"{self.full_name}, {self.line1}, {self.city}"


class RefreshToken(models.Model):
    """An opaque refresh token, stored only as its SHA-256. Rotation issues a new token in the same
    family; presenting a token that was already rotated away (or revoked) revokes the family."""

    class RevokeReason(models.TextChoices):
        ROTATED = "rotated", "Rotated"
        LOGOUT = "logout", "Logged out"
        LOGOUT_ALL = "logout_all", "Signed out everywhere"
        REUSE = "reuse", "Reuse detected in family"
        PASSWORD = "password", "Password changed or reset"
        DEACTIVATED = "deactivated", "Account deactivated"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="refresh_tokens")
    family_id = models.UUIDField(db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.CharField(max_length=20, choices=RevokeReason.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "revoked_at"], name="users_refresh_customer_idx")]

    def __str__(self) -> str:
        return f"refresh token {self.id} ({self.customer_id})"

    def is_usable(self, *, now=None) -> bool:
        return self.revoked_at is None and self.expires_at > (now or timezone.now())


class PasswordResetToken(models.Model):
    """A single-use, expiring password reset token, stored only as its SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="password_reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"password reset {self.id} ({self.customer_id})"


class PhoneVerification(models.Model):
    """A code texted to a phone number to prove the shopper receives texts there. Only a keyed
    hash of the code is stored; the text carries the only copy. Rows are also the ledger the
    per-number and per-account request limits count."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phone_verifications")
    phone = models.CharField(max_length=16, help_text="E.164, as texted.")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "created_at"], name="users_phoneverif_customer_idx"),
            models.Index(fields=["phone", "created_at"], name="users_phoneverif_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"phone verification {self.id} ({self.customer_id})"


class OutboxEvent(AbstractOutboxEvent):
    class Meta(AbstractOutboxEvent.Meta):
        indexes = outbox_indexes("users")


class InboxEvent(AbstractInboxEvent):
    class Meta(AbstractInboxEvent.Meta):
        pass


class TokenRevocation(AbstractTokenRevocation):
    class Meta(AbstractTokenRevocation.Meta):
        pass
