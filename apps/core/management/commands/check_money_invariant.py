"""manage.py check_money_invariant: per order, captured minus refunded in orders equals charged
minus refunded in payments. Each side is its service's own ledger command (orders_money_ledger,
payments_money_ledger): all-in-one, both run here; split, each runs where its service runs and
its JSON output is passed here as a file (--orders FILE --payments FILE). Exits 1 on a difference."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


def _ledger(path: str | None, command: str) -> dict[str, tuple[Decimal, str]]:
    if path:
        text = Path(path).read_text()
    else:
        # By name, not by import: platform code imports no service.
        out = io.StringIO()
        call_command(command, stdout=out)
        text = out.getvalue()
    entries = json.loads(text)
    ledger = {}
    for order_id, value in entries.items():
        amount, _, currency = str(value).partition(" ")
        ledger[order_id] = (Decimal(amount), currency)
    return ledger


def money_differences(orders: dict[str, tuple[Decimal, str]], payments: dict[str, tuple[Decimal, str]]) -> list[str]:
    """Every order whose two sides differ, described; an order absent on one side holds zero there."""
    differences = []
    for order_id in sorted(orders.keys() | payments.keys()):
        ours, theirs = orders.get(order_id), payments.get(order_id)
        ours_amount, theirs_amount = (ours or (Decimal(0), ""))[0], (theirs or (Decimal(0), ""))[0]
        same_currency = not (ours and theirs and ours_amount and ours[1] != theirs[1])
        if ours_amount != theirs_amount or not same_currency:
            differences.append(f"order {order_id}: orders {ours or 0}, payments {theirs or 0}")
    return differences


class Command(BaseCommand):
    help = "Check, per order, that orders' captured - refunded equals payments' charged - refunded."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--orders", help="orders_money_ledger's output (default: run it here)")
        parser.add_argument("--payments", help="payments_money_ledger's output (default: run it here)")

    def handle(self, *args, **options) -> None:
        orders = _ledger(options["orders"], "orders_money_ledger")
        payments = _ledger(options["payments"], "payments_money_ledger")
        differences = money_differences(orders, payments)
        for line in differences:
            self.stderr.write(line)
        self.stdout.write(f"money invariant: {len(orders | payments)} orders, {len(differences)} differ")
        if differences:
            raise CommandError("The money invariant does not hold.", returncode=1)
