"""Transactions on a service's own database alias (a bare transaction.atomic() would open one on
`default`, which in the all-in-one shape is not where a service's tables live)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from apps.core.services import db_alias


def atomic(service: str, *, savepoint: bool = True) -> transaction.Atomic:
    return transaction.atomic(using=db_alias(service), savepoint=savepoint)


def on_commit(service: str, callback: Callable[[], None]) -> None:
    transaction.on_commit(callback, using=db_alias(service))
