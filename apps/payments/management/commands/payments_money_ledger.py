"""manage.py payments_money_ledger: payments' side of the money invariant, as JSON {order id: "<net> <currency>"}
(run where payments runs; manage.py check_money_invariant compares it with the other side)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from apps.payments.selectors import payment_money_ledger


class Command(BaseCommand):
    help = "Print, per order, the money payments holds (captured or charged minus refunded) as JSON."

    def handle(self, *args, **options) -> None:
        self.stdout.write(json.dumps(payment_money_ledger(), sort_keys=True))
