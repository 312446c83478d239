"""Password reset: request (always 202, publishes the link) and confirm (single use, expiring)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from apps.core.sealing import unseal
from apps.users.contracts.events import PASSWORD_RESET_REQUESTED
from apps.users.models import PasswordResetToken, RefreshToken
from apps.users.tokens import secret_hash
from tests.users import factories
from tests.users.helpers import assert_problem, events

# Transactions commit: the request queues the reset (a task run once the transaction commits).
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

REQUEST = "/api/v1/users/password-reset/"
CONFIRM = "/api/v1/users/password-reset/confirm/"
NEW_PASSWORD = "a-brand-new-passphrase"


def _request_token(client, email) -> str:
    response = client.post(REQUEST, {"email": email}, format="json")
    assert response.status_code == 202
    url = unseal(events(PASSWORD_RESET_REQUESTED)[-1]["sealed_reset_url"])
    return parse_qs(urlsplit(url).query)["token"][0]


@override_settings(SHOP_FRONTEND_URL="https://shop.example.com/")
def test_request_publishes_a_reset_link_and_stores_only_a_hash(api_client, customer):
    response = api_client.post(REQUEST, {"email": customer.email.upper()}, format="json")

    assert response.status_code == 202
    [payload] = events(PASSWORD_RESET_REQUESTED)
    assert payload["customer_id"] == str(customer.id)
    assert payload["email"] == customer.email
    assert payload["first_name"] == customer.first_name
    # The outbox row (and so the message on the topic) holds the link sealed, never in clear.
    assert "token=" not in str(payload)
    url = urlsplit(unseal(payload["sealed_reset_url"]))
    assert (url.scheme, url.netloc, url.path) == ("https", "shop.example.com", "/reset-password")
    token = parse_qs(url.query)["token"][0]
    stored = PasswordResetToken.objects.get(customer=customer)
    assert stored.token_hash == secret_hash(token)
    assert stored.expires_at.isoformat() == payload["expires_at"]
    assert stored.expires_at > timezone.now()


def test_request_for_an_unknown_email_answers_the_same_and_publishes_nothing(api_client, customer):
    known = api_client.post(REQUEST, {"email": customer.email}, format="json")
    unknown = api_client.post(REQUEST, {"email": "nobody@example.com"}, format="json")

    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert len(events(PASSWORD_RESET_REQUESTED)) == 1


def test_request_for_a_deactivated_account_publishes_nothing(api_client):
    customer = factories.customer(is_active=False)

    assert api_client.post(REQUEST, {"email": customer.email}, format="json").status_code == 202
    assert events(PASSWORD_RESET_REQUESTED) == []


def test_request_with_a_bad_email_is_400(api_client):
    body = assert_problem(api_client.post(REQUEST, {"email": "nope"}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"email"}


def test_confirm_sets_the_password_and_signs_every_session_out(api_client, customer):
    session = api_client.post(
        "/api/v1/users/token/", {"email": customer.email, "password": factories.PASSWORD}, format="json"
    ).json()
    token = _request_token(api_client, customer.email)

    response = api_client.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert PasswordResetToken.objects.get(customer=customer).used_at is not None
    assert not RefreshToken.objects.filter(customer=customer, revoked_at__isnull=True).exists()
    refused = api_client.post("/api/v1/users/token/refresh/", {"refresh_token": session["refresh_token"]})
    assert_problem(refused, status=401, code="refresh_token_invalid")
    login = api_client.post("/api/v1/users/token/", {"email": customer.email, "password": NEW_PASSWORD})
    assert login.status_code == 200


def test_a_reset_token_works_once(api_client, customer):
    token = _request_token(api_client, customer.email)
    api_client.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}, format="json")

    response = api_client.post(CONFIRM, {"token": token, "new_password": "yet-another-passphrase"}, format="json")

    assert_problem(response, status=400, code="reset_token_invalid")
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


def test_using_one_reset_token_spends_the_others(api_client, customer):
    first = _request_token(api_client, customer.email)
    second = _request_token(api_client, customer.email)
    api_client.post(CONFIRM, {"token": second, "new_password": NEW_PASSWORD}, format="json")

    response = api_client.post(CONFIRM, {"token": first, "new_password": "yet-another-passphrase"}, format="json")

    assert_problem(response, status=400, code="reset_token_invalid")


def test_an_expired_reset_token_is_400(api_client, customer):
    token = _request_token(api_client, customer.email)
    PasswordResetToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_client.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}, format="json")

    assert_problem(response, status=400, code="reset_token_invalid")
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)


def test_an_unknown_reset_token_is_400(api_client, customer):
    response = api_client.post(CONFIRM, {"token": "made-up", "new_password": NEW_PASSWORD}, format="json")

    assert_problem(response, status=400, code="reset_token_invalid")


def test_a_weak_new_password_is_400_and_the_token_stays_usable(api_client, customer):
    token = _request_token(api_client, customer.email)

    body = assert_problem(
        api_client.post(CONFIRM, {"token": token, "new_password": "password"}, format="json"),
        status=400,
        code="invalid",
    )

    assert set(body["errors"]) == {"new_password"}
    customer.refresh_from_db()
    assert customer.check_password(factories.PASSWORD)
    assert PasswordResetToken.objects.get(customer=customer).used_at is None
    assert api_client.post(CONFIRM, {"token": token, "new_password": NEW_PASSWORD}, format="json").status_code == 204


def test_confirm_with_missing_fields_is_400(api_client):
    body = assert_problem(api_client.post(CONFIRM, {}, format="json"), status=400, code="invalid")

    assert set(body["errors"]) == {"token", "new_password"}


def test_the_request_does_the_same_work_for_a_known_and_an_unknown_email(api_client, customer, monkeypatch):
    # Given the work a reset request does before it answers (its database queries; the lookup
    # and the email happen in a task, here run in-process once the transaction commits)
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(settings, "TASKS_RUN_IN_PROCESS", False)
    queued = []
    monkeypatch.setattr("apps.users.tasks.send_password_reset.apply_async", lambda **kw: queued.append(kw))

    def work(email):
        with (
            CaptureQueriesContext(connections["users"]) as users,
            CaptureQueriesContext(connections["default"]) as default,
        ):
            assert api_client.post(REQUEST, {"email": email}, format="json").status_code == 202
        return [query["sql"] for query in (*users.captured_queries, *default.captured_queries)]

    # When a known and an unknown email are asked for
    known, unknown = work(customer.email), work("nobody@example.com")

    # Then the requests did exactly the same: queue one task each, no lookup
    assert known == unknown == []
    assert queued == [
        {"args": (), "kwargs": {"email": customer.email}},
        {"args": (), "kwargs": {"email": "nobody@example.com"}},
    ]
