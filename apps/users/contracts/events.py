"""Events the users service publishes, with their payload schemas (version 1)."""

from __future__ import annotations

from dataclasses import dataclass

USER_REGISTERED = "user.registered"
USER_UPDATED = "user.updated"
PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
EMAIL_VERIFICATION_REQUESTED = "user.email_verification_requested"
# The shopper proved they receive mail at `email`: other services may now trust it as theirs.
EMAIL_VERIFIED = "user.email_verified"
STAFF_CHANGED = "staff.changed"
# Every service subscribes: it refuses the subject's access tokens issued before not_before.
TOKENS_REVOKED = "user.tokens_revoked"

PUBLISHES = (
    USER_REGISTERED,
    USER_UPDATED,
    PASSWORD_RESET_REQUESTED,
    EMAIL_VERIFICATION_REQUESTED,
    EMAIL_VERIFIED,
    STAFF_CHANGED,
    TOKENS_REVOKED,
)
SUBSCRIBES: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserRegistered:
    customer_id: str
    email: str
    first_name: str
    last_name: str
    phone: str
    # Whether the shopper proved they receive texts at `phone`; only then may it be texted.
    # Defaults to False so an event from before the field existed reads as unverified.
    phone_verified: bool = False


@dataclass(frozen=True)
class UserUpdated:
    customer_id: str
    email: str
    first_name: str
    last_name: str
    phone: str
    is_active: bool
    phone_verified: bool = False


@dataclass(frozen=True)
class PasswordResetRequested:
    """`sealed_reset_url` is the link sealed with EVENT_SEALING_KEYS (apps.core.sealing): the
    outbox row and the message on the topic never hold a usable link."""

    customer_id: str
    email: str
    first_name: str
    sealed_reset_url: str
    expires_at: str


@dataclass(frozen=True)
class EmailVerificationRequested:
    """`sealed_verify_url` is the verification link sealed with EVENT_SEALING_KEYS, as the reset
    link is: whoever opens the link proves they read mail at `email`."""

    customer_id: str
    email: str
    first_name: str
    sealed_verify_url: str
    expires_at: str


@dataclass(frozen=True)
class EmailVerified:
    customer_id: str
    email: str


@dataclass(frozen=True)
class TokensRevoked:
    """The shopper's access tokens issued before `not_before` (ISO 8601) are void:
    the account was deactivated, its password changed or reset, or it signed out everywhere."""

    customer_id: str
    not_before: str
    reason: str


@dataclass(frozen=True)
class StaffChanged:
    """A staff account as every service's admin needs it (see apps/core/staff.py)."""

    username: str
    email: str
    first_name: str
    last_name: str
    # Django's password hash, never the password. Each admin's own sign-in form checks it, so staff
    # can sign in anywhere while users is down; the hand-off through users cannot replace that.
    password: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    groups: list[str]
