"""POST /api/v1/users/me/phone/verification/ (text a code) and .../confirm/ (check it): the code
reaches the phone (moto's SNS) and is stored only as a keyed hash; wrong guesses, expiry and the
per-number and per-account limits hold; a changed phone is unverified again; the verified state
travels in user.updated."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.users.contracts.events import USER_UPDATED
from apps.users.models import Customer, OutboxEvent, PhoneVerification
from tests.users import factories
from tests.users.helpers import assert_problem, events

pytestmark = pytest.mark.django_db(databases="__all__")

REQUEST = "/api/v1/users/me/phone/verification/"
CONFIRM = "/api/v1/users/me/phone/verification/confirm/"
ME = "/api/v1/users/me/"


def _code_texted_to(moto, phone: str) -> str:
    texts = [sms for sms in moto.sms_messages() if sms["phone_number"] == phone]
    assert texts, f"no SMS to {phone}"
    return re.search(r"\b(\d{6})\b", texts[-1]["message"]).group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_texted_code_verifies_the_phone_and_user_updated_says_so(moto, auth_client, customer):
    response = auth_client.post(REQUEST)

    assert response.status_code == 202, response.content
    assert response.json() == {"detail": "A verification code has been texted to your phone."}
    code = _code_texted_to(moto, "+49301234567")
    # The code rests nowhere in plaintext: not in the verification row, not in any event.
    verification = PhoneVerification.objects.get(customer=customer)
    assert code not in verification.code_hash
    assert not any(code in str(row.payload) for row in OutboxEvent.objects.all())

    response = auth_client.post(CONFIRM, {"code": code}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["phone_verified"] is True
    assert auth_client.get(ME).json()["phone_verified"] is True
    assert events(USER_UPDATED)[-1]["phone_verified"] is True


def test_a_wrong_code_is_refused_and_the_attempts_run_out(moto, auth_client, customer, settings):
    settings.USERS_PHONE_CODE_ATTEMPTS = 3
    auth_client.post(REQUEST)
    code = _code_texted_to(moto, "+49301234567")

    for _ in range(3):
        assert_problem(
            auth_client.post(CONFIRM, {"code": _wrong(code)}, format="json"), status=400, code="phone_code_invalid"
        )
    # Out of attempts: even the right code no longer works.
    assert_problem(auth_client.post(CONFIRM, {"code": code}, format="json"), status=400, code="phone_code_invalid")

    customer.refresh_from_db()
    assert customer.phone_verified_at is None
    assert PhoneVerification.objects.get(customer=customer).attempts == 3


def test_an_expired_code_is_refused(moto, auth_client, customer):
    auth_client.post(REQUEST)
    code = _code_texted_to(moto, "+49301234567")
    PhoneVerification.objects.filter(customer=customer).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert_problem(auth_client.post(CONFIRM, {"code": code}, format="json"), status=400, code="phone_code_invalid")


def test_a_new_code_can_be_asked_for_only_after_the_interval(moto, auth_client, customer, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 60
    assert auth_client.post(REQUEST).status_code == 202

    assert_problem(auth_client.post(REQUEST), status=429, code="phone_code_limit")
    assert PhoneVerification.objects.filter(customer=customer).count() == 1


def test_a_number_gets_at_most_its_days_codes_whichever_accounts_ask(moto, client_for, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 0
    settings.USERS_PHONE_CODES_PER_NUMBER_DAY = 2
    victim = "+44 20 7946 0000"
    accounts = [factories.customer(phone=victim) for _ in range(3)]
    before = len(moto.sms_messages())

    assert client_for(accounts[0]).post(REQUEST).status_code == 202
    assert client_for(accounts[1]).post(REQUEST).status_code == 202
    assert_problem(client_for(accounts[2]).post(REQUEST), status=429, code="phone_code_limit")

    assert len(moto.sms_messages()) == before + 2


def test_an_account_gets_at_most_its_days_codes_whichever_numbers(moto, auth_client, customer, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 0
    settings.USERS_PHONE_CODES_PER_ACCOUNT_DAY = 2
    for number in ("+33 1 23 45 67 01", "+33 1 23 45 67 02"):
        Customer.objects.filter(pk=customer.pk).update(phone=number)
        assert auth_client.post(REQUEST).status_code == 202

    Customer.objects.filter(pk=customer.pk).update(phone="+33 1 23 45 67 03")
    assert_problem(auth_client.post(REQUEST), status=429, code="phone_code_limit")


def test_a_number_without_a_country_code_cannot_be_verified(moto, client_for):
    shopper = factories.customer(phone="030 1234567")

    assert_problem(client_for(shopper).post(REQUEST), status=400, code="phone_not_verifiable")


def test_changing_the_phone_unverifies_it(moto, auth_client, customer):
    auth_client.post(REQUEST)
    auth_client.post(CONFIRM, {"code": _code_texted_to(moto, "+49301234567")}, format="json")

    response = auth_client.patch(ME, {"phone": "+49 30 7654321"}, format="json")

    assert response.json()["phone_verified"] is False
    assert events(USER_UPDATED)[-1]["phone_verified"] is False


def test_a_code_for_the_old_number_does_not_verify_the_new_one(moto, auth_client, customer):
    auth_client.post(REQUEST)
    code = _code_texted_to(moto, "+49301234567")
    auth_client.patch(ME, {"phone": "+49 30 7654321"}, format="json")

    assert_problem(auth_client.post(CONFIRM, {"code": code}, format="json"), status=400, code="phone_code_invalid")


def test_the_endpoints_are_throttled(moto, auth_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "phone_confirm": "2/hour"},
    }
    for _ in range(2):
        auth_client.post(CONFIRM, {"code": "000000"}, format="json")

    assert auth_client.post(CONFIRM, {"code": "000000"}, format="json").status_code == 429


def test_asking_for_codes_is_throttled_by_its_own_scope(moto, auth_client, settings):
    settings.USERS_PHONE_CODE_INTERVAL_SECONDS = 0  # so the throttle, not the code limit, answers
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "phone_verification": "2/hour"},
    }
    assert [auth_client.post(REQUEST).status_code for _ in range(2)] == [202, 202]

    assert_problem(auth_client.post(REQUEST), status=429, code="throttled")
