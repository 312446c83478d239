"""manage.py expire_stalled_orders: the saga timeout sweep, for cron or a one-off run."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.orders.tasks import expire_stalled_orders


class Command(BaseCommand):
    help = "Cancel and compensate orders whose saga step has waited longer than ORDERS_SAGA_TIMEOUT_SECONDS."

    def handle(self, *args, **options) -> None:
        expired = expire_stalled_orders()
        self.stdout.write(f"Expired {expired} stalled order(s).")
