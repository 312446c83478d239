"""Account lockout with backoff, counted in the Django cache (shared in production): after a run
of wrong passwords for one account, its credentials are not checked at all for a while, and each
further wrong password doubles the wait. Keyed by the identifier the caller typed (an email),
whether or not an account has it, so a lockout tells nothing about which accounts exist."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import status

from apps.core.exceptions import ApplicationError


class TooManyFailures(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"
    default_detail = "Too many wrong passwords for this account; try again later."

    def __init__(self, *, wait: float):
        super().__init__()
        self.wait = math.ceil(wait)  # the problem handler sends it as Retry-After


def _keys(scope: str, identifier: str) -> tuple[str, str]:
    digest = hashlib.sha256(identifier.strip().lower().encode()).hexdigest()
    return f"lockout:{scope}:{digest}:failures", f"lockout:{scope}:{digest}:until"


def lockout_check(*, scope: str, identifier: str) -> None:
    """Raise TooManyFailures while the identifier is locked out."""
    _, until_key = _keys(scope, identifier)
    until = cache.get(until_key)
    if until is not None and until > time.time():
        raise TooManyFailures(wait=until - time.time())


def lockout_failure(*, scope: str, identifier: str) -> None:
    """Count a wrong password; from the threshold on, lock out for the backoff it has reached."""
    failures_key, until_key = _keys(scope, identifier)
    cache.add(failures_key, 0, timeout=settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS)
    try:
        failures = cache.incr(failures_key)
    except ValueError:  # expired between add and incr
        cache.set(failures_key, 1, timeout=settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS)
        failures = 1
    beyond = failures - settings.SIGN_IN_LOCKOUT_THRESHOLD
    if beyond < 0:
        return
    seconds = min(settings.SIGN_IN_LOCKOUT_BASE_SECONDS * 2 ** min(beyond, 32), settings.SIGN_IN_LOCKOUT_MAX_SECONDS)
    cache.set(until_key, time.time() + seconds, timeout=seconds)


def lockout_clear(*, scope: str, identifier: str) -> None:
    """A successful check: the run of failures is over."""
    cache.delete_many(list(_keys(scope, identifier)))
