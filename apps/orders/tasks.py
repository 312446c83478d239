"""Celery entry points of the orders service: thin, each calls a service."""

from __future__ import annotations

from celery import shared_task

from apps.orders.services.saga import orders_expire_stalled


@shared_task(name="orders.expire_stalled_orders", acks_late=True, ignore_result=True)
def expire_stalled_orders() -> int:
    """Periodic (ORDERS_CELERY_BEAT_SCHEDULE): cancel and compensate orders whose saga step has
    waited longer than ORDERS_SAGA_TIMEOUT_SECONDS."""
    return orders_expire_stalled()
