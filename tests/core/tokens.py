"""Minting access tokens in tests, as the users service would (or as an attacker would)."""

from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from apps.core.auth.keys import key_id, signing_key


def access_token(
    *,
    subject: uuid.UUID | None = None,
    expires_in: int = 300,
    key: rsa.RSAPrivateKey | None = None,
    **claims,
) -> str:
    _, default_key = signing_key()
    key = key or default_key
    now = int(time.time())
    payload = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "sub": str(subject or uuid.uuid4()),
        "email": "shopper@example.com",
        "iat": now,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": key_id(key.public_key())})
