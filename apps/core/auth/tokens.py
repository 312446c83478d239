"""Access-token verification, shared by every service. Issuing lives in the users service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt
from django.conf import settings

from apps.core.auth.keys import ALGORITHM, verification_keys

ACCESS_TOKEN_TYPE = "access"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, tampered or signed by an unknown key."""


@dataclass(frozen=True)
class TokenUser:
    """The shopper a verified access token speaks for; no database row behind it."""

    id: uuid.UUID
    email: str
    token_id: str
    issued_at: float = 0.0

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    @property
    def pk(self) -> uuid.UUID:
        return self.id


def verify_access_token(token: str) -> TokenUser:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken("The token is malformed.") from error
    key = verification_keys().get(header.get("kid", ""))
    if key is None or header.get("alg") != ALGORITHM:
        raise InvalidToken("The token was not signed by a trusted key.")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("The token has expired.") from error
    except jwt.PyJWTError as error:
        raise InvalidToken("The token is invalid.") from error
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("The token is not an access token.")
    try:
        subject = uuid.UUID(claims["sub"])
    except ValueError as error:
        raise InvalidToken("The token subject is invalid.") from error
    try:
        issued_at = float(claims["iat"])
    except (TypeError, ValueError) as error:
        raise InvalidToken("The token issue time is invalid.") from error
    return TokenUser(id=subject, email=claims.get("email", ""), token_id=claims["jti"], issued_at=issued_at)
