"""Staff accounts in every service's admin.

The users service owns staff accounts (Django's auth.User in its database, managed in its admin)
and publishes `staff.changed` on every change. Each other service keeps a local copy, applied by
the handler below, so its admin signs staff in from its own database and keeps working while
users is down. Accounts, password hashes, flags and group *membership* replicate; what a group
may do (its permissions) is decided in each service's own admin, because permissions name that
service's models, which only exist there."""

from __future__ import annotations

import contextvars
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.core.events.declarations import subscribes
from apps.core.events.envelope import Envelope
from apps.core.events.handlers import event_handler

STAFF_CHANGED = "staff.changed"

# Set while a replicated change is applied, so the users service does not publish it again
# (in the all-in-one shape every service shares one staff table).
applying_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("applying_replica", default=False)

STAFF_FIELDS = ("email", "first_name", "last_name", "password", "is_active", "is_staff", "is_superuser")


def staff_account_payload(user: Any) -> dict[str, Any]:
    return {
        "username": user.get_username(),
        **{field: getattr(user, field) for field in STAFF_FIELDS},
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


def staff_account_apply(payload: dict[str, Any]) -> None:
    token = applying_replica.set(True)
    try:
        user, _ = get_user_model().objects.update_or_create(
            username=payload["username"],
            defaults={field: payload[field] for field in STAFF_FIELDS},
        )
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in payload["groups"]])
    finally:
        applying_replica.reset(token)


def _on_staff_changed(envelope: Envelope) -> None:
    staff_account_apply(envelope.payload)


def register_staff_replication() -> None:
    for service in settings.ACTIVE_SERVICES:
        if STAFF_CHANGED in subscribes(service):
            event_handler(service, STAFF_CHANGED)(_on_staff_changed)
