"""Writes of the users service: registration, sign-in and token rotation, profile and password
changes, password reset, phone verification, addresses, and the staff account replication events. Every change and
the event it publishes commit in one transaction on the users database."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.auth.revocation import tokens_revoke
from apps.core.db import atomic
from apps.core.events import publish
from apps.core.exceptions import ValidationFailed
from apps.core.lockout import lockout_check, lockout_clear, lockout_failure
from apps.core.sealing import seal
from apps.core.sms import normalize_phone, sms_publish
from apps.core.staff import staff_account_payload
from apps.users.contracts import events as contract
from apps.users.errors import (
    EmailTaken,
    InvalidCredentials,
    PhoneAlreadyVerified,
    PhoneCodeInvalid,
    PhoneCodeLimit,
    PhoneNotVerifiable,
    RefreshTokenInvalid,
    RefreshTokenReused,
    ResetTokenInvalid,
    SmsUnavailable,
)
from apps.users.models import Address, Customer, PasswordResetToken, PhoneVerification, RefreshToken, normalize_email
from apps.users.rotation import rotation_recall, rotation_remember
from apps.users.tokens import access_token_issue, new_secret, secret_hash

logger = logging.getLogger(__name__)

PRODUCER = "users"
# One lockout count per account for every check of a shopper's password (sign-in, change).
SIGN_IN_LOCKOUT = "sign_in"
PROFILE_FIELDS = ("first_name", "last_name", "phone")
ADDRESS_FIELDS = (
    "label",
    "full_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "is_default",
)
# A hash to check a password against when the email is unknown, so a failed sign-in takes as long
# whether or not the account exists (made lazily: the hasher comes from settings).
_dummy_password_hash: str | None = None


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


# --- Events ------------------------------------------------------------------------------------


def _publish_user_registered(customer: Customer) -> None:
    payload = contract.UserRegistered(
        customer_id=str(customer.id),
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        phone=customer.phone,
        phone_verified=customer.phone_verified,
    )
    publish(producer=PRODUCER, event_type=contract.USER_REGISTERED, payload=payload)


def _publish_user_updated(customer: Customer) -> None:
    payload = contract.UserUpdated(
        customer_id=str(customer.id),
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        phone=customer.phone,
        is_active=customer.is_active,
        phone_verified=customer.phone_verified,
    )
    publish(producer=PRODUCER, event_type=contract.USER_UPDATED, payload=payload)


# --- Passwords ---------------------------------------------------------------------------------


def _validate_new_password(*, password: str, customer: Customer, field: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS, with the customer as the "user" so the similarity
    validator compares against their email and names."""
    try:
        validate_password(password, user=customer)
    except DjangoValidationError as error:
        raise ValidationFailed({field: list(error.messages)}) from error


def _password_matches(customer: Customer, raw_password: str) -> bool:
    def upgrade(raw: str) -> None:
        # Django's hasher upgrade: re-hash with the current preferred hasher on a successful check.
        customer.password = make_password(raw)
        customer.save(update_fields=["password"])

    return check_password(raw_password, customer.password, setter=upgrade)


def _burn_password_check_time(raw_password: str) -> None:
    global _dummy_password_hash
    if _dummy_password_hash is None:
        _dummy_password_hash = make_password(new_secret())
    check_password(raw_password, _dummy_password_hash)


# --- Tokens ------------------------------------------------------------------------------------


def _token_pair_issue(*, customer: Customer, family_id: uuid.UUID, now: datetime) -> TokenPair:
    """Must run inside atomic("users"): it stores the new refresh token."""
    refresh_secret = new_secret()
    refresh = RefreshToken.objects.create(
        customer=customer,
        family_id=family_id,
        token_hash=secret_hash(refresh_secret),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.JWT_REFRESH_TOKEN_SECONDS),
    )
    access = access_token_issue(customer_id=customer.id, email=customer.email, now=now)
    return TokenPair(
        access_token=access.token,
        access_expires_at=access.expires_at,
        refresh_token=refresh_secret,
        refresh_expires_at=refresh.expires_at,
    )


def _refresh_tokens_revoke(*, now: datetime, reason: str, **filters: Any) -> int:
    return RefreshToken.objects.filter(revoked_at__isnull=True, **filters).update(revoked_at=now, revoke_reason=reason)


def _customer_tokens_revoke(*, customer: Customer, now: datetime, reason: str) -> None:
    """Sign the shopper out everywhere: refresh tokens at once, and access tokens issued until
    now in users at once and in every other service as soon as `user.tokens_revoked` reaches it.
    Must run inside atomic("users"), with the customer row written (and so locked) in it."""
    _refresh_tokens_revoke(now=now, reason=reason, customer=customer)
    tokens_revoke(service=PRODUCER, subject_id=customer.id, not_before=now)
    payload = contract.TokensRevoked(customer_id=str(customer.id), not_before=now.isoformat(), reason=reason)
    publish(producer=PRODUCER, event_type=contract.TOKENS_REVOKED, payload=payload)


def customer_login(*, email: str, password: str) -> TokenPair:
    """Sign in: a new token family (one per sign-in, i.e. per device or session). A run of wrong
    passwords locks the email out (apps.core.lockout), known account or not."""
    email = normalize_email(email)
    lockout_check(scope=SIGN_IN_LOCKOUT, identifier=email)
    customer = Customer.objects.filter(email=email).first()
    if customer is None:
        _burn_password_check_time(password)
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=email)
        raise InvalidCredentials()
    if not _password_matches(customer, password) or not customer.is_active:
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=email)
        raise InvalidCredentials()
    lockout_clear(scope=SIGN_IN_LOCKOUT, identifier=email)
    now = timezone.now()
    with atomic(PRODUCER):
        customer.last_login = now
        customer.save(update_fields=["last_login"])
        return _token_pair_issue(customer=customer, family_id=uuid.uuid4(), now=now)


def _rotation_replay(*, token: RefreshToken, refresh_token: str) -> TokenPair | None:
    """The pair the token's rotation answered, if it still stands: a session signed out since
    (sign-out, password change, deactivation, a later rotation) gets nothing."""
    answer = rotation_recall(refresh_token=refresh_token)
    if answer is None or not token.customer.is_active:
        return None
    pair = TokenPair(
        access_token=answer["access_token"],
        access_expires_at=datetime.fromisoformat(answer["access_expires_at"]),
        refresh_token=answer["refresh_token"],
        refresh_expires_at=datetime.fromisoformat(answer["refresh_expires_at"]),
    )
    live = RefreshToken.objects.filter(
        family_id=token.family_id, token_hash=secret_hash(pair.refresh_token), revoked_at__isnull=True
    )
    return pair if live.exists() else None


def token_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new one in its family replaces it. A spent
    (rotated) token presented again means two parties hold the family, one of them not the
    shopper, so the whole family is revoked and both must sign in again; except within
    USERS_REFRESH_GRACE_SECONDS of the rotation, when it is the same client refreshing twice at
    once and gets the same answer as the first time."""
    now = timezone.now()
    with atomic(PRODUCER):
        token = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(token_hash=secret_hash(refresh_token))
            .first()
        )
        if token is None:
            raise RefreshTokenInvalid()
        reused = token.revoke_reason == RefreshToken.RevokeReason.ROTATED
        if reused and token.revoked_at > now - timedelta(seconds=settings.USERS_REFRESH_GRACE_SECONDS):
            # The first rotation stored its answer before committing (it held the row lock this
            # request waited on), so a miss means the cache lost it: answer nothing either way.
            # A session signed out since (sign-out, password change, deactivation) stays out.
            replay = _rotation_replay(token=token, refresh_token=refresh_token)
            if replay is None:
                raise RefreshTokenInvalid()
            return replay
        if reused:
            _refresh_tokens_revoke(now=now, reason=RefreshToken.RevokeReason.REUSE, family_id=token.family_id)
        elif token.is_usable(now=now) and token.customer.is_active:
            token.revoked_at = now
            token.revoke_reason = RefreshToken.RevokeReason.ROTATED
            token.save(update_fields=["revoked_at", "revoke_reason"])
            pair = _token_pair_issue(customer=token.customer, family_id=token.family_id, now=now)
            rotation_remember(refresh_token=refresh_token, answer=asdict(pair))
            return pair
    # Raised after the block so the family's revocation is committed, not rolled back.
    if reused:
        logger.warning(
            "refresh token reuse: family %s of customer %s revoked",
            token.family_id,
            token.customer_id,
            extra={"customer_id": str(token.customer_id), "token_family": str(token.family_id)},
        )
        raise RefreshTokenReused()
    raise RefreshTokenInvalid()


def token_revoke(*, refresh_token: str) -> None:
    """Sign out: end the session the refresh token belongs to (its whole family). Unknown or
    already revoked tokens are accepted silently, as RFC 7009 asks, so sign-out is idempotent."""
    now = timezone.now()
    with atomic(PRODUCER):
        token = RefreshToken.objects.filter(token_hash=secret_hash(refresh_token)).first()
        if token is not None:
            _refresh_tokens_revoke(now=now, reason=RefreshToken.RevokeReason.LOGOUT, family_id=token.family_id)


def customer_sign_out_everywhere(*, customer: Customer) -> None:
    """End every session of the shopper: all refresh token families and all access tokens."""
    now = timezone.now()
    with atomic(PRODUCER):
        _lock_customer(customer.id)
        _customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.LOGOUT_ALL)


# --- Customers ---------------------------------------------------------------------------------


def customer_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", phone: str = ""
) -> Customer:
    customer = Customer(email=normalize_email(email), first_name=first_name, last_name=last_name, phone=phone)
    customer.full_clean(exclude=["password"], validate_unique=False, validate_constraints=False)
    _validate_new_password(password=password, customer=customer, field="password")
    customer.set_password(password)
    with atomic(PRODUCER):
        if Customer.objects.filter(email=customer.email).exists():
            raise EmailTaken()
        try:
            with atomic(PRODUCER):
                customer.save(force_insert=True)
        except IntegrityError as error:  # a concurrent registration of the same email won the race
            raise EmailTaken() from error
        _publish_user_registered(customer)
    return customer


def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    """Update the profile fields present in `data`; publishes user.updated if anything changed."""
    changed = [field for field in PROFILE_FIELDS if field in data and getattr(customer, field) != data[field]]
    if not changed:
        return customer
    for field in changed:
        setattr(customer, field, data[field])
    if "phone" in changed and customer.phone_verified_at is not None:
        # A verification proves one number; a new one must be proved again before it gets texts.
        customer.phone_verified_at = None
        changed.append("phone_verified_at")
    customer.full_clean(exclude=["password", "email"], validate_unique=False, validate_constraints=False)
    with atomic(PRODUCER):
        customer.save(update_fields=[*changed, "updated_at"])
        _publish_user_updated(customer)
    return customer


def customer_admin_save(*, customer: Customer, changed_fields: list[str]) -> Customer:
    """A staff edit in the admin: the same event as a shopper's edit, and deactivation signs the
    shopper out everywhere (their refresh tokens stop working at once). A changed phone is
    unverified, as when the shopper changes it."""
    if "phone" in changed_fields:
        customer.phone_verified_at = None
    with atomic(PRODUCER):
        customer.save()
        if "is_active" in changed_fields and not customer.is_active:
            _customer_tokens_revoke(customer=customer, now=timezone.now(), reason=RefreshToken.RevokeReason.DEACTIVATED)
        if changed_fields:
            _publish_user_updated(customer)
    return customer


def customers_deactivate(*, customer_ids: list[uuid.UUID]) -> int:
    """Deactivate several customers (the admin action); returns how many were active."""
    count = 0
    with atomic(PRODUCER):
        for customer in Customer.objects.select_for_update().filter(pk__in=customer_ids, is_active=True):
            customer.is_active = False
            customer_admin_save(customer=customer, changed_fields=["is_active"])
            count += 1
    return count


def customer_change_password(*, customer: Customer, current_password: str, new_password: str) -> TokenPair:
    """Change the password, sign out every other session, and return a fresh token pair so the
    caller stays signed in. A wrong current password counts toward the account's sign-in
    lockout: a stolen access token must not become a way to guess the password."""
    lockout_check(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
    if not _password_matches(customer, current_password):
        lockout_failure(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
        raise ValidationFailed({"current_password": ["The current password is incorrect."]})
    _validate_new_password(password=new_password, customer=customer, field="new_password")
    now = timezone.now()
    with atomic(PRODUCER):
        customer.set_password(new_password)
        customer.save(update_fields=["password", "updated_at"])
        _customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.PASSWORD)
        # Issued at the revocation's instant, so its `iat` is not before it: this pair stays valid.
        pair = _token_pair_issue(customer=customer, family_id=uuid.uuid4(), now=now)
    lockout_clear(scope=SIGN_IN_LOCKOUT, identifier=customer.email)
    return pair


# --- Password reset ----------------------------------------------------------------------------


def _reset_url(token: str) -> str:
    base = settings.SHOP_FRONTEND_URL.rstrip("/")
    path = "/" + settings.USERS_PASSWORD_RESET_PATH.lstrip("/")
    return f"{base}{path}?{urlencode({'token': token})}"


def password_reset_request(*, email: str) -> None:
    """Queue the reset for `email` and return: the request does the same work whether or not
    an account has it (no lookup), so neither the answer nor its timing tells. The task sends
    the link (password_reset_send)."""
    # Imported here: tasks.py imports this module.
    from apps.core.tasks import enqueue
    from apps.users.tasks import send_password_reset

    enqueue(PRODUCER, send_password_reset, email=normalize_email(email))


def password_reset_send(*, email: str) -> None:
    """Send a reset link if an active account has this email; nothing otherwise. The link
    carries the only copy of the token; the database keeps its hash, the event only the sealed
    link (see apps.core.sealing)."""
    customer = Customer.objects.filter(email=normalize_email(email), is_active=True).first()
    if customer is None:
        logger.info("password reset requested for an unknown or inactive email")
        return
    token = new_secret()
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.USERS_PASSWORD_RESET_TOKEN_SECONDS)
    with atomic(PRODUCER):
        PasswordResetToken.objects.create(
            customer=customer, token_hash=secret_hash(token), created_at=now, expires_at=expires_at
        )
        payload = contract.PasswordResetRequested(
            customer_id=str(customer.id),
            email=customer.email,
            first_name=customer.first_name,
            sealed_reset_url=seal(_reset_url(token)),
            expires_at=expires_at.isoformat(),
        )
        publish(producer=PRODUCER, event_type=contract.PASSWORD_RESET_REQUESTED, payload=payload)


def password_reset_confirm(*, token: str, new_password: str) -> None:
    """Set a new password with a reset token. Every outstanding reset token of the account is
    spent with it, and every session is signed out."""
    now = timezone.now()
    with atomic(PRODUCER):
        reset = (
            PasswordResetToken.objects.select_for_update(of=("self",))
            .select_related("customer")
            .filter(token_hash=secret_hash(token))
            .first()
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now or not reset.customer.is_active:
            raise ResetTokenInvalid()
        customer = reset.customer
        # A too-weak password rolls everything back: the token stays usable for a better one.
        _validate_new_password(password=new_password, customer=customer, field="new_password")
        customer.set_password(new_password)
        customer.save(update_fields=["password", "updated_at"])
        PasswordResetToken.objects.filter(customer=customer, used_at__isnull=True).update(used_at=now)
        _customer_tokens_revoke(customer=customer, now=now, reason=RefreshToken.RevokeReason.PASSWORD)


# --- Phone verification ------------------------------------------------------------------------
# Users texts the code itself (apps/core/sms.py) rather than through an event to notifications:
# an event would hold the code in plaintext in the outbox row, on the queue and in notifications'
# delivery log. Here only a keyed hash (HMAC with SECRET_KEY: a 6-digit code's plain hash is
# reversed by trying a million codes) is stored, and the text carries the only copy.


def _phone_code_hash(*, verification_id: uuid.UUID, code: str) -> str:
    return salted_hmac("users.phone_verification", f"{verification_id}:{code}", algorithm="sha256").hexdigest()


def _phone_codes_requested(*, now: datetime, **filters: Any) -> int:
    return PhoneVerification.objects.filter(created_at__gt=now - timedelta(days=1), **filters).count()


def phone_verification_request(*, customer: Customer) -> PhoneVerification:
    """Text a fresh code to the shopper's phone; earlier codes stop working. Limited: one code a
    USERS_PHONE_CODE_INTERVAL_SECONDS, and a day's codes per number and per account."""
    phone = normalize_phone(customer.phone)
    if phone is None:
        raise PhoneNotVerifiable()
    if customer.phone_verified:
        raise PhoneAlreadyVerified()
    now = timezone.now()
    code = f"{secrets.randbelow(10**6):06d}"
    with atomic(PRODUCER):
        # Locks the account and every account holding this number, so concurrent requests are
        # counted one after the other instead of all passing the limit together; in one query,
        # in primary key order, so two requests never hold each other's next row (deadlock).
        holders = Customer.objects.filter(Q(pk=customer.id) | Q(phone=customer.phone))
        list(holders.select_for_update().order_by("pk").values_list("pk", flat=True))
        last = PhoneVerification.objects.filter(customer=customer).order_by("-created_at").first()
        if last is not None and last.created_at > now - timedelta(seconds=settings.USERS_PHONE_CODE_INTERVAL_SECONDS):
            raise PhoneCodeLimit()
        if (
            _phone_codes_requested(now=now, phone=phone) >= settings.USERS_PHONE_CODES_PER_NUMBER_DAY
            or _phone_codes_requested(now=now, customer=customer) >= settings.USERS_PHONE_CODES_PER_ACCOUNT_DAY
        ):
            logger.warning("phone verification limit reached for customer %s", customer.id)
            raise PhoneCodeLimit()
        PhoneVerification.objects.filter(customer=customer, confirmed_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        # Rows older than the limits' day count for nothing: the account's own are dropped here.
        PhoneVerification.objects.filter(customer=customer, created_at__lte=now - timedelta(days=1)).delete()
        verification = PhoneVerification(
            customer=customer,
            phone=phone,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.USERS_PHONE_CODE_SECONDS),
        )
        verification.code_hash = _phone_code_hash(verification_id=verification.id, code=code)
        verification.save(force_insert=True)
    # After commit: the request counts against the limits even when the text fails (a failing
    # provider must not open a way around them).
    minutes = settings.USERS_PHONE_CODE_SECONDS // 60
    try:
        sms_publish(to=phone, text=f"Your ShopStack verification code is {code}. It expires in {minutes} minutes.")
    except Exception as error:
        logger.warning("phone verification code for customer %s not sent: %s", customer.id, error)
        raise SmsUnavailable() from error
    return verification


def phone_verification_confirm(*, customer: Customer, code: str) -> Customer:
    """Mark the phone verified if `code` is the latest code texted to it; each wrong guess uses
    one of USERS_PHONE_CODE_ATTEMPTS. Publishes user.updated so notifications may text it."""
    now = timezone.now()
    matched = False
    with atomic(PRODUCER):
        _lock_customer(customer.id)
        customer.refresh_from_db()
        phone = normalize_phone(customer.phone)
        verification = (
            PhoneVerification.objects.filter(customer=customer, confirmed_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at")
            .first()
        )
        usable = (
            verification is not None
            and verification.phone == phone
            and verification.attempts < settings.USERS_PHONE_CODE_ATTEMPTS
            and not customer.phone_verified
        )
        if usable:
            verification.attempts += 1
            matched = hmac.compare_digest(
                verification.code_hash, _phone_code_hash(verification_id=verification.id, code=code)
            )
            if matched:
                verification.confirmed_at = now
                customer.phone_verified_at = now
                customer.save(update_fields=["phone_verified_at", "updated_at"])
                _publish_user_updated(customer)
            verification.save(update_fields=["attempts", "confirmed_at"])
    # Raised after the block, so the spent attempt is committed rather than rolled back.
    if not matched:
        raise PhoneCodeInvalid()
    return customer


# --- Addresses ---------------------------------------------------------------------------------


def _lock_customer(customer_id: uuid.UUID) -> None:
    # Serialises a shopper's address writes, so two "make this the default" requests cannot
    # both pass and then trip the one-default constraint.
    Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True).first()


def _address_save(address: Address, *, update_fields: list[str] | None = None) -> Address:
    address.full_clean(exclude=["customer"], validate_constraints=False)
    if address.is_default:
        Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(pk=address.pk).update(
            is_default=False
        )
    address.save(update_fields=update_fields)
    return address


def address_create(*, customer_id: uuid.UUID, data: dict[str, Any]) -> Address:
    with atomic(PRODUCER):
        _lock_customer(customer_id)
        address = Address(customer_id=customer_id, **{field: data[field] for field in ADDRESS_FIELDS if field in data})
        # A shopper's first address is their default: checkout has something to prefill.
        if not Address.objects.filter(customer_id=customer_id).exists():
            address.is_default = True
        return _address_save(address)


def address_update(*, address: Address, data: dict[str, Any]) -> Address:
    changed = [field for field in ADDRESS_FIELDS if field in data and getattr(address, field) != data[field]]
    if not changed:
        return address
    with atomic(PRODUCER):
        _lock_customer(address.customer_id)
        for field in changed:
            setattr(address, field, data[field])
        return _address_save(address, update_fields=[*changed, "updated_at"])


def address_delete(*, address: Address) -> None:
    with atomic(PRODUCER):
        address.delete()


# --- Staff accounts ----------------------------------------------------------------------------
# Why events and not a shared table: each service's admin signs staff in from its own database,
# so catalog's or orders' admin keeps working while users is down. What a group may do is set
# per service (permissions name that service's models); only accounts and membership replicate.
# See apps/users/README.md.


def staff_account_changed(*, user: Any) -> None:
    """Publish a staff account's current state. auth.User lives in `default`; the outbox in the
    users alias, which is the same database in the split shape (one transaction, atomic with the
    change) and a separate one all-in-one, where every service reads the same staff table and
    the event changes nothing."""
    payload = contract.StaffChanged(**staff_account_payload(user))
    with atomic(PRODUCER):
        publish(producer=PRODUCER, event_type=contract.STAFF_CHANGED, payload=payload)


def staff_account_deleted(*, user: Any) -> None:
    """The contract has no deletion event: a deleted account replicates as one that can do
    nothing (inactive, no flags, no groups, unusable password), which is what a deletion means
    for signing in. All-in-one, the staff table is shared, so there is nothing to replicate
    (and applying it would bring the deleted row back)."""
    if settings.ALL_IN_ONE:
        return
    payload = contract.StaffChanged(
        username=user.get_username(),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        password=make_password(None),
        is_active=False,
        is_staff=False,
        is_superuser=False,
        groups=[],
    )
    with atomic(PRODUCER):
        publish(producer=PRODUCER, event_type=contract.STAFF_CHANGED, payload=payload)
