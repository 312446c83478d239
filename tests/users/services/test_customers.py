"""Customer services beyond what the API tests reach: races, hasher upgrades, deactivation."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import IntegrityError
from django.test import override_settings

from apps.users.contracts.events import USER_REGISTERED, USER_UPDATED
from apps.users.errors import EmailTaken, InvalidCredentials
from apps.users.models import Customer, RefreshToken
from apps.users.services import customers, tokens
from tests.users import factories
from tests.users.helpers import events

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_lost_registration_race_is_email_taken(monkeypatch):
    # Both requests passed the exists() check; the unique index decides.
    def insert_conflict(self, *args, **kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(Customer, "save", insert_conflict)

    with pytest.raises(EmailTaken):
        customers.customer_register(email="race@example.com", password="a-long-and-unusual-passphrase")
    assert events(USER_REGISTERED) == []


def test_the_database_refuses_an_email_that_is_not_lowercase():
    with pytest.raises(IntegrityError):
        Customer.objects.create(email="Mixed@Example.com", password=make_password("x"))


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1


@override_settings(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.MD5PasswordHasher",
        f"{__name__}.FastPBKDF2PasswordHasher",
    ]
)
def test_login_upgrades_an_outdated_password_hash():
    customer = factories.customer()
    customer.password = make_password(factories.PASSWORD, hasher="pbkdf2_sha256")
    customer.save()

    tokens.customer_login(email=customer.email, password=factories.PASSWORD)

    customer.refresh_from_db()
    assert customer.password.startswith("md5$")


def test_login_with_an_unknown_email_still_checks_a_password():
    with pytest.raises(InvalidCredentials):
        tokens.customer_login(email="nobody@example.com", password="whatever")


def test_deactivating_signs_the_customer_out_and_publishes_user_updated():
    customer = factories.customer()
    pair = tokens.customer_login(email=customer.email, password=factories.PASSWORD)

    assert customers.customers_deactivate(customer_ids=[customer.id]) == 1

    token = RefreshToken.objects.get(customer=customer)
    assert (token.revoke_reason, token.revoked_at is not None) == ("deactivated", True)
    assert [p["is_active"] for p in events(USER_UPDATED)] == [False]
    assert pair.refresh_token  # the pair was issued, and is now useless
    assert customers.customers_deactivate(customer_ids=[customer.id]) == 0
