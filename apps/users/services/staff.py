"""Replication of staff accounts (auth.User) to the other services by staff.changed events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password

from apps.core.db import atomic
from apps.core.events import publish
from apps.core.staff import staff_account_payload
from apps.users.contracts import events as contract
from apps.users.services.common import PRODUCER


def staff_account_changed(*, user: Any) -> None:
    """Publish a staff account's current state. auth.User lives in `default`; the outbox in the
    users alias, which is the same database in the split shape (one transaction, atomic with the
    change) and a separate one all-in-one, where every service reads the same staff table and
    the event changes nothing."""
    payload = contract.StaffChanged(**staff_account_payload(user))
    with atomic(PRODUCER):
        publish(producer=PRODUCER, event_type=contract.STAFF_CHANGED, payload=payload)


def staff_account_deleted(*, user: Any) -> None:
    """The contract has no deletion event: a deleted account replicates as one that can do
    nothing (inactive, no flags, no groups, unusable password), which is what a deletion means
    for signing in. All-in-one, the staff table is shared, so there is nothing to replicate
    (and applying it would bring the deleted row back)."""
    if settings.ALL_IN_ONE:
        return
    payload = contract.StaffChanged(
        username=user.get_username(),
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        password=make_password(None),
        is_active=False,
        is_staff=False,
        is_superuser=False,
        groups=[],
    )
    with atomic(PRODUCER):
        publish(producer=PRODUCER, event_type=contract.STAFF_CHANGED, payload=payload)
