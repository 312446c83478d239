"""Which services this process runs, and which database alias each one's tables live in."""

from __future__ import annotations

from django.conf import settings

from config.services import SERVICES


def is_service(app_label: str) -> bool:
    return app_label in SERVICES


def is_active(service: str) -> bool:
    return service in settings.ACTIVE_SERVICES


def db_alias(service: str) -> str:
    """The database alias holding a service's tables: its own alias all-in-one, else default."""
    return service if service in settings.DATABASES else "default"
