"""The answer a refresh token's rotation gave, kept in the Django cache for the grace window so a
concurrent refresh of the same token gets the same pair. Sealed with a key derived from the spent
token itself: only a holder of that token can read it, not a reader of the cache."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.cache import cache

from apps.users.tokens import secret_hash


def _sealing(refresh_token: str) -> tuple[str, Fernet]:
    key = base64.urlsafe_b64encode(hashlib.sha256(b"refresh-rotation:" + refresh_token.encode()).digest())
    return f"users:refresh-rotation:{secret_hash(refresh_token)}", Fernet(key)


def rotation_remember(*, refresh_token: str, answer: dict[str, Any]) -> None:
    """Keep `answer` (JSON-serialisable) for USERS_REFRESH_GRACE_SECONDS."""
    cache_key, fernet = _sealing(refresh_token)
    sealed = fernet.encrypt(json.dumps(answer, default=str).encode())
    cache.set(cache_key, sealed, timeout=settings.USERS_REFRESH_GRACE_SECONDS)


def rotation_recall(*, refresh_token: str) -> dict[str, Any] | None:
    cache_key, fernet = _sealing(refresh_token)
    sealed = cache.get(cache_key)
    return None if sealed is None else json.loads(fernet.decrypt(sealed))
