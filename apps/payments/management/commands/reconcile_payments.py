"""manage.py reconcile_payments: one reconciliation run with the provider, for cron or by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.payments.services.reconciliation import provider_reconcile


class Command(BaseCommand):
    help = "Compare the provider's PaymentIntents and refunds since the cursor with payments' rows; repair drift."

    def handle(self, *args, **options) -> None:
        found = provider_reconcile()
        summary = ", ".join(f"{kind} {count}" for kind, count in sorted(found.items())) or "no drift"
        self.stdout.write(f"Reconciliation: {summary}.")
