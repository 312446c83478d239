"""Celery entry points of the users service (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task

from apps.users.services import passwords, retention


@shared_task(name="apps.users.send_password_reset", acks_late=True, ignore_result=True)
def send_password_reset(email: str) -> None:
    passwords.password_reset_send(email=email)


@shared_task(name="apps.users.prune_expired_credentials", acks_late=True, ignore_result=True)
def prune_expired_credentials() -> dict[str, int]:
    return retention.expired_credentials_prune()
