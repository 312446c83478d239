"""The shape this process runs, from SERVICE: unset means all-in-one (every service, one database
alias each), a service name means split (that service only)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.services import UnknownServiceError, active_service_names
from config.settings.env import env_str

SERVICE = env_str("SERVICE", "") or None
try:
    ACTIVE_SERVICES = active_service_names(SERVICE)
except UnknownServiceError as error:
    raise ImproperlyConfigured(str(error)) from None
ALL_IN_ONE = SERVICE is None
