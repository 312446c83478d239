"""manage.py seed_demo [--if-empty]: load the deterministic demo catalog (24 categories, 1,000
products, 3,000 SKUs with stock by default) with bulk inserts."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog.models import Category, Product
from apps.catalog.seeding import seed_demo


class Command(BaseCommand):
    help = "Load the demo catalog (deterministic). Refuses a non-empty catalog unless --if-empty skips it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing (successfully) if products exist.")
        parser.add_argument("--products", type=int, default=1000)
        parser.add_argument("--variants-per-product", type=int, default=3, help="At most 3 (options per category).")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, if_empty: bool, products: int, variants_per_product: int, seed: int, **options) -> None:
        if products < 1 or not 1 <= variants_per_product <= 3:
            raise CommandError("--products must be at least 1 and --variants-per-product from 1 to 3.")
        if Product.objects.exists() or Category.objects.exists():
            if if_empty:
                self.stdout.write("The catalog already has data; nothing seeded.")
                return
            raise CommandError("The catalog already has data; seed_demo loads an empty catalog only.")
        started = time.perf_counter()
        summary = seed_demo(
            products=products,
            variants_per_product=variants_per_product,
            seed=seed,
            progress=lambda message: self.stderr.write(f"seeded {message}"),
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.categories} categories, {summary.products} products and "
                f"{summary.variants} SKUs with stock in {time.perf_counter() - started:.1f}s."
            )
        )
