"""Concurrent code requests are counted one after the other: the limits cannot be passed by
asking many times at once (PostgreSQL, real transactions, one connection per thread)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from apps.users.errors import PhoneCodeLimit
from apps.users.models import PhoneVerification
from apps.users.services import phone
from tests.users import factories

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

THREADS = 6


def _request_concurrently(customers) -> list[str]:
    barrier = threading.Barrier(len(customers))

    def run(customer) -> str:
        try:
            barrier.wait(timeout=10)
            phone.phone_verification_request(customer=customer)
            return "sent"
        except PhoneCodeLimit:
            return "limited"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(customers)) as pool:
        return [future.result(timeout=60) for future in [pool.submit(run, customer) for customer in customers]]


def test_one_account_asking_at_once_gets_one_code(moto, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 60
    customer = factories.customer(phone="+49 30 5550001")

    outcomes = _request_concurrently([customer] * THREADS)

    assert sorted(outcomes) == ["limited"] * (THREADS - 1) + ["sent"]
    assert PhoneVerification.objects.filter(customer=customer).count() == 1


def test_many_accounts_asking_for_one_number_at_once_get_its_days_codes_only(moto, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 0
    settings.USERS_PHONE_CODES_PER_NUMBER_DAY = 2
    accounts = [factories.customer(phone="+49 30 5550002") for _ in range(THREADS)]

    outcomes = _request_concurrently(accounts)

    assert sorted(outcomes) == ["limited"] * (THREADS - 2) + ["sent"] * 2
    assert PhoneVerification.objects.filter(phone="+49305550002").count() == 2
