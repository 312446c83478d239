"""Events the users service publishes, with their payload schemas (version 1)."""

from __future__ import annotations

from dataclasses import dataclass

USER_REGISTERED = "user.registered"
USER_UPDATED = "user.updated"
PASSWORD_RESET_REQUESTED = "user.password_reset_requested"
STAFF_CHANGED = "staff.changed"
# Every service subscribes: it refuses the subject's access tokens issued before not_before.
TOKENS_REVOKED = "user.tokens_revoked"

PUBLISHES = (USER_REGISTERED, USER_UPDATED, PASSWORD_RESET_REQUESTED, STAFF_CHANGED, TOKENS_REVOKED)
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
    password: str  # Django's password hash, never the password
    is_active: bool
    is_staff: bool
    is_superuser: bool
    groups: list[str]
