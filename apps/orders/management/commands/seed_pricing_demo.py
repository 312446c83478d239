"""manage.py seed_pricing_demo: demo shipping zones, methods, tax rates and a voucher (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.orders.pricing.demo import pricing_demo_seed


class Command(BaseCommand):
    help = "Load demo shipping zones and methods, tax rates for a few countries and the WELCOME10 voucher."

    def handle(self, *args, **options) -> None:
        pricing_demo_seed()
        self.stdout.write("Demo pricing rules loaded.")
