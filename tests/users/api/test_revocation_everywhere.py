"""Access tokens stop working in every service once the account is deactivated, its password
changed or reset, or its shopper signs out everywhere (all-in-one: the `user.tokens_revoked`
event reaches each service in-process after commit)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.events.handlers import deliver
from apps.users.models import OutboxEvent, PasswordResetToken
from apps.users.services import customers, passwords, tokens
from apps.users.tokens import access_token_issue, secret_hash
from tests.users import factories

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# One view per service that needs a shopper's access token.
PROTECTED = {
    "users": "/api/v1/users/me/",
    "orders": "/api/v1/orders/",
    "payments": "/api/v1/payments/",
    "notifications": "/api/v1/notifications/preferences/",
}
SERVICES = ("users", "catalog", "orders", "payments", "notifications")


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _statuses(token: str) -> dict[str, int]:
    client = _client(token)
    return {service: client.get(url).status_code for service, url in PROTECTED.items()}


def _accepted_everywhere(token: str) -> bool:
    return set(_statuses(token).values()) == {200}


def _refused_everywhere(token: str) -> bool:
    return set(_statuses(token).values()) == {401}


def _token(customer) -> str:
    return access_token_issue(customer_id=customer.id, email=customer.email).token


def _sign_in(customer) -> dict:
    response = APIClient().post(
        "/api/v1/users/token/", {"email": customer.email, "password": factories.PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_deactivation_refuses_the_shoppers_access_tokens_in_every_service():
    customer = factories.customer()
    token = _token(customer)
    assert _accepted_everywhere(token)

    customer.is_active = False
    customers.customer_admin_save(customer=customer, changed_fields=["is_active"])

    assert _refused_everywhere(token)
    body = _client(token).get(PROTECTED["orders"]).json()
    assert body["code"] == "token_revoked"
    for service in SERVICES:
        row = apps.get_model(service, "TokenRevocation").objects.get(subject_id=customer.id)
        assert row.not_before <= timezone.now()


def test_an_other_shoppers_tokens_are_not_touched():
    customer, other = factories.customer(), factories.customer()
    other_token = _token(other)

    tokens.customer_sign_out_everywhere(customer=customer)

    assert _accepted_everywhere(other_token)


def test_a_password_change_refuses_older_tokens_and_keeps_the_new_pair():
    customer = factories.customer()
    old = _sign_in(customer)["access_token"]

    pair = passwords.customer_change_password(
        customer=customer, current_password=factories.PASSWORD, new_password="an-other-Passphrase-42"
    )

    assert _refused_everywhere(old)
    assert _accepted_everywhere(pair.access_token)


def test_a_password_reset_refuses_older_tokens():
    customer = factories.customer()
    token = _token(customer)
    PasswordResetToken.objects.create(
        customer=customer, token_hash=secret_hash("reset-secret"), expires_at=timezone.now() + timedelta(hours=1)
    )

    passwords.password_reset_confirm(token="reset-secret", new_password="an-other-Passphrase-42")

    assert _refused_everywhere(token)


def test_sign_out_everywhere_refuses_every_token_and_a_new_sign_in_works():
    customer = factories.customer()
    first = _sign_in(customer)
    second = _sign_in(customer)

    response = _client(first["access_token"]).post("/api/v1/users/me/sign-out-everywhere/")

    assert response.status_code == 204
    assert _refused_everywhere(first["access_token"]) and _refused_everywhere(second["access_token"])
    refreshed = APIClient().post("/api/v1/users/token/refresh/", {"refresh_token": second["refresh_token"]})
    assert refreshed.status_code == 401
    assert _accepted_everywhere(_sign_in(customer)["access_token"])


def test_a_late_or_repeated_revocation_event_never_moves_the_time_back():
    customer = factories.customer()
    tokens.customer_sign_out_everywhere(customer=customer)
    first = OutboxEvent.objects.get(event_type="user.tokens_revoked")
    tokens.customer_sign_out_everywhere(customer=customer)
    latest = apps.get_model("orders", "TokenRevocation").objects.get(subject_id=customer.id).not_before

    # The first event delivered again under a new id (a replay): the later time stays in force.
    replayed = dataclasses.replace(first.to_envelope(), id=uuid.uuid4())
    assert deliver("orders", replayed) is True

    assert apps.get_model("orders", "TokenRevocation").objects.get(subject_id=customer.id).not_before == latest
