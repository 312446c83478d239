"""Across services, through their APIs only (all-in-one): a shopper registers and gets the
welcome email and the email verification link, asks for a password reset and the emailed link
resets it, and opts in to SMS."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail

from apps.notifications.models import Delivery, Preference

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PASSWORD = "a-long-and-unusual-passphrase"


def test_register_then_reset_the_password_from_the_emailed_link(api_client):
    registered = api_client.post(
        "/api/v1/users/register/",
        {"email": "journey@example.com", "password": PASSWORD, "first_name": "Jo", "phone": "+44 20 7946 0958"},
        format="json",
    )
    assert registered.status_code == 201, registered.content
    welcome, verification = sorted(mail.outbox, key=lambda email: not email.subject.startswith("Welcome"))
    assert (welcome.to, welcome.subject) == (["journey@example.com"], "Welcome to ShopStack, Jo")
    assert (verification.to, verification.subject) == (
        ["journey@example.com"],
        "Confirm your email address for ShopStack",
    )

    asked = api_client.post("/api/v1/users/password-reset/", {"email": "journey@example.com"}, format="json")
    assert asked.status_code in {200, 202, 204}, asked.content
    reset_email = mail.outbox[-1]
    link = re.search(r"https?://\S+reset-password\S+", reset_email.body).group(0)
    token = parse_qs(urlparse(link).query)["token"][0]

    confirmed = api_client.post(
        "/api/v1/users/password-reset/confirm/",
        {"token": token, "new_password": "another-long-passphrase-2"},
        format="json",
    )
    assert confirmed.status_code in {200, 204}, confirmed.content
    signed_in = api_client.post(
        "/api/v1/users/token/", {"email": "journey@example.com", "password": "another-long-passphrase-2"}, format="json"
    )
    assert signed_in.status_code == 200, signed_in.content

    assert sorted(Delivery.objects.values_list("template", "status")) == [
        ("email_verification", "sent"),
        ("password_reset", "sent"),
        ("welcome", "sent"),
    ]
    # The access token users issued works on the notifications API, for this shopper.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['access_token']}")
    opted = api_client.patch("/api/v1/notifications/preferences/", {"sms_opt_in": True}, format="json")
    assert opted.status_code == 200, opted.content
    customer_id = Delivery.objects.get(template="welcome").customer_id
    assert Preference.objects.get(customer_id=customer_id).sms_opt_in is True
