"""Fixtures of the notifications tests: a moto server for SNS (SMS) and SES (tests/moto.py),
shopper tokens, and helpers that publish sample events the way producers do."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.core.auth.keys import ALGORITHM, signing_key
from tests.moto import moto, moto_endpoint  # noqa: F401 (fixtures)

# --- Shoppers and tokens --------------------------------------------------------------------------


def access_token(customer_id: uuid.UUID, *, email: str = "", lifetime: timedelta = timedelta(minutes=5)) -> str:
    """An access token as the users service issues one (apps/core/auth/tokens.py's claims)."""
    kid, key = signing_key()
    now = datetime.now(UTC)
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "typ": "access",
        "sub": str(customer_id),
        "email": email,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    def make(customer_id: uuid.UUID, **token_options: Any) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(customer_id, **token_options)}")
        return api

    return make
