"""Issuing tokens: RS256 access tokens every service verifies locally (apps.core.auth.tokens), and
the opaque secrets behind refresh and password reset tokens, of which only a hash is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from django.conf import settings
from django.utils import timezone

from apps.core.auth.keys import ALGORITHM, signing_key
from apps.core.auth.tokens import ACCESS_TOKEN_TYPE

# 48 random bytes: far beyond guessing, short enough for a URL.
SECRET_BYTES = 48


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: datetime


def access_token_issue(*, customer_id: uuid.UUID, email: str, now: datetime | None = None) -> AccessToken:
    """A signed access token for the customer; `kid` names the key so verifiers can rotate."""
    kid, private_key = signing_key()
    issued_at = now or timezone.now()
    expires_at = issued_at + timedelta(seconds=settings.JWT_ACCESS_TOKEN_SECONDS)
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(customer_id),
        "email": email,
        # To the microsecond (RFC 7519 allows a fraction): a revocation refuses tokens issued
        # before it, and a sign-in in the same second after it must not be caught too.
        "iat": issued_at.timestamp(),
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TOKEN_TYPE,
    }
    token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})
    return AccessToken(token=token, expires_at=expires_at)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    """SHA-256 is enough here (unlike for passwords): the secret is random, not guessable."""
    return hashlib.sha256(secret.encode()).hexdigest()
