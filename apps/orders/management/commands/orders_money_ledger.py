"""manage.py orders_money_ledger: orders' side of the money invariant, as JSON {order id: "<net> <currency>"}
(run where orders runs; manage.py check_money_invariant compares it with the other side)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.orders.selectors import order_money_ledger


class Command(BaseCommand):
    help = "Print, per order, the money orders holds (captured or charged minus refunded) as JSON."

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(order_money_ledger(), sort_keys=True))
