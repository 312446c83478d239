"""Fixtures of the payments tests: events delivered to payments only (in-process), and API
clients signed in as a shopper by a locally minted access token."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.core.auth.keys import ALGORITHM, signing_key
from tests.payments import transport

PAYMENTS_ONLY = "tests.payments.transport.PaymentsOnlyTransport"


@pytest.fixture(autouse=True)
def _payments_only_transport(settings):
    settings.EVENT_TRANSPORT = PAYMENTS_ONLY
    settings.PAYMENTS_PROVIDER = "apps.payments.providers.sandbox.SandboxProvider"
    transport.sent.clear()
    yield
    transport.sent.clear()


def access_token(customer_id: uuid.UUID) -> str:
    kid, key = signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(customer_id),
        "email": f"{customer_id.hex[:8]}@example.com",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


@pytest.fixture
def client_for() -> Callable[[uuid.UUID], APIClient]:
    def make(customer_id: uuid.UUID) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(customer_id)}")
        return client

    return make
