"""Phone verification: a texted code, rate limited per account and per number, and its confirmation."""

from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.db import atomic
from apps.core.sms import normalize_phone, sms_publish
from apps.users.errors import PhoneAlreadyVerified, PhoneCodeInvalid, PhoneCodeLimit, PhoneNotVerifiable, SmsUnavailable
from apps.users.models import Customer, PhoneVerification
from apps.users.services.common import PRODUCER, lock_customer, publish_user_updated

logger = logging.getLogger(__name__)


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
        lock_customer(customer.id)
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
                publish_user_updated(customer)
            verification.save(update_fields=["attempts", "confirmed_at"])
    # Raised after the block, so the spent attempt is committed rather than rolled back.
    if not matched:
        raise PhoneCodeInvalid()
    return customer
