"""Wrong passwords lock the account out, whatever address they come from: 429 `locked_out` with
Retry-After, growing with each further failure; the same for an unknown email."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from apps.core.lockout import _keys
from apps.users.services.common import SIGN_IN_LOCKOUT
from tests.users import factories
from tests.users.helpers import assert_problem

pytestmark = pytest.mark.django_db(databases="__all__")

LOGIN = "/api/v1/users/token/"
LOCKOUT = {"SIGN_IN_LOCKOUT_THRESHOLD": 3, "SIGN_IN_LOCKOUT_BASE_SECONDS": 60, "SIGN_IN_LOCKOUT_MAX_SECONDS": 200}


def _login(email: str, password: str, n: int = 1):
    # A new client address every time: the per-address throttle never sees the same one twice.
    return APIClient(REMOTE_ADDR=f"198.51.100.{n}").post(LOGIN, {"email": email, "password": password})


@override_settings(**LOCKOUT)
def test_wrong_passwords_from_many_addresses_lock_the_account_out(customer):
    # Given three wrong passwords for one account, each from another address
    codes = [_login(customer.email, "wrong", n).status_code for n in range(1, 4)]

    # When the right password follows
    response = _login(customer.email.upper(), factories.PASSWORD, 4)

    # Then it is refused unchecked until the lockout ends
    assert codes == [401, 401, 401]
    assert_problem(response, status=429, code="locked_out")
    assert 0 < int(response["Retry-After"]) <= 60


@override_settings(**LOCKOUT)
def test_the_lockout_doubles_with_each_further_failure_up_to_the_cap(customer):
    for n in range(3):
        _login(customer.email, "wrong", n)
    waits = []
    for _ in range(3):
        # The lockout ran out (its key expired): the next wrong password locks again, longer.
        cache.delete(_keys(SIGN_IN_LOCKOUT, customer.email)[1])
        assert _login(customer.email, "wrong").status_code == 401
        waits.append(int(_login(customer.email, factories.PASSWORD)["Retry-After"]))

    assert waits[0] in (119, 120) and waits[1] in (199, 200) and waits[2] in (199, 200)


@override_settings(**LOCKOUT)
def test_an_unknown_email_locks_out_the_same_way():
    codes = [_login("nobody@example.com", "wrong", n).status_code for n in range(1, 5)]

    assert codes == [401, 401, 401, 429]


@override_settings(**LOCKOUT)
def test_a_successful_sign_in_clears_the_count(customer):
    _login(customer.email, "wrong")
    _login(customer.email, "wrong")
    assert _login(customer.email, factories.PASSWORD).status_code == 200

    codes = [_login(customer.email, "wrong", n).status_code for n in range(2)]

    assert codes == [401, 401]
    assert _login(customer.email, factories.PASSWORD).status_code == 200


@override_settings(**LOCKOUT)
def test_wrong_current_passwords_in_a_password_change_count_toward_the_lockout(client_for, customer):
    client = client_for(customer)
    for _ in range(3):
        response = client.post("/api/v1/users/me/password/", {"current_password": "x", "new_password": "n3w-pass-word"})
        assert response.status_code == 400

    assert_problem(_login(customer.email, factories.PASSWORD), status=429, code="locked_out")
    response = client.post(
        "/api/v1/users/me/password/", {"current_password": factories.PASSWORD, "new_password": "n3w-pass-word"}
    )
    assert_problem(response, status=429, code="locked_out")
