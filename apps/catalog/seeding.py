"""The deterministic demo catalog (manage.py seed_demo): a category tree, products with variants
priced in EUR, and stock, written with bulk inserts so 1,000 products and 3,000 SKUs take seconds.
The same seed always makes the same catalog."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils.text import slugify

from apps.catalog.models import Category, Product, Stock, Variant
from apps.catalog.services.products import product_listing_refresh
from apps.core.db import atomic

# (top-level category, its children, brands, product nouns, option name, option values)
TREE = [
    (
        "Clothing",
        ["T-Shirts", "Hoodies", "Jackets", "Trousers"],
        ["Northwind", "Fjellrev", "Urbane"],
        ["Tee", "Hoodie", "Jacket", "Chinos", "Overshirt"],
        "size",
        ["XS", "S", "M", "L", "XL"],
    ),
    (
        "Shoes",
        ["Sneakers", "Boots", "Sandals"],
        ["Stride", "Trailhead", "Pace"],
        ["Runner", "Boot", "Sneaker", "Sandal"],
        "size",
        ["39", "40", "41", "42", "43", "44"],
    ),
    (
        "Home",
        ["Kitchen", "Bedding", "Lighting", "Decor"],
        ["Hearth", "Lumen", "Oakline"],
        ["Mug", "Pan", "Duvet Cover", "Lamp", "Vase"],
        "colour",
        ["white", "black", "sage", "terracotta"],
    ),
    (
        "Electronics",
        ["Audio", "Phone Accessories", "Cables"],
        ["Voltra", "Sonique", "Kabel"],
        ["Headphones", "Speaker", "Charger", "Cable", "Case"],
        "colour",
        ["black", "white", "blue"],
    ),
    (
        "Sports",
        ["Running", "Yoga", "Cycling"],
        ["Apex", "Flowform", "Velo"],
        ["Mat", "Bottle", "Jersey", "Gloves", "Cap"],
        "colour",
        ["red", "blue", "green", "black"],
    ),
    (
        "Books",
        ["Fiction", "Cooking", "Travel"],
        ["Inkwell", "Paperlane"],
        ["Novel", "Cookbook", "Guide", "Atlas"],
        "format",
        ["paperback", "hardcover", "ebook"],
    ),
]
ADJECTIVES = [
    "Classic",
    "Essential",
    "Everyday",
    "Premium",
    "Lightweight",
    "Organic",
    "Recycled",
    "Heritage",
    "Compact",
    "Studio",
    "Trail",
    "Urban",
    "Soft",
    "Bold",
    "Vintage",
    "Modern",
]
COLOURS = ["red", "blue", "green", "black", "white", "grey", "navy", "sand"]
MATERIALS = ["cotton", "wool", "linen", "recycled polyester", "stoneware", "aluminium", "oak", "leather"]


@dataclass(frozen=True)
class SeedSummary:
    categories: int
    products: int
    variants: int


def seed_demo(
    *,
    products: int = 1000,
    variants_per_product: int = 3,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> SeedSummary:
    """Write the demo catalog (in one transaction). Expects an empty catalog."""
    rng = random.Random(seed)  # noqa: S311 (demo data must be reproducible, not secret)
    report = progress or (lambda message: None)
    with atomic("catalog"):
        leaves: list[tuple[Category, tuple]] = []
        for position, (name, children, *rest) in enumerate(TREE):
            top = Category.objects.create(name=name, slug=slugify(name), position=position)
            for child_position, child in enumerate(children):
                leaf = Category.objects.create(
                    name=child, slug=slugify(f"{name}-{child}"), parent=top, position=child_position
                )
                leaves.append((leaf, tuple(rest)))
        categories = Category.objects.count()
        report(f"{categories} categories")

        product_rows: list[Product] = []
        variant_plan: list[tuple[Product, list[str], str, Decimal]] = []
        for number in range(1, products + 1):
            category, (brands, nouns, option, values) = leaves[(number - 1) % len(leaves)]
            brand = rng.choice(brands)
            name = f"{brand} {rng.choice(ADJECTIVES)} {rng.choice(nouns)} {number:04d}"
            product = Product(
                name=name,
                slug=slugify(name),
                description=(
                    f"{rng.choice(ADJECTIVES)} {category.name.lower()} from {brand}, "
                    f"made of {rng.choice(MATERIALS)}. Colour: {rng.choice(COLOURS)}."
                ),
                brand=brand,
                category=category,
                attributes={"material": rng.choice(MATERIALS)},
                active=rng.random() > 0.03,
            )
            product_rows.append(product)
            chosen = sorted(rng.sample(values, k=min(variants_per_product, len(values))), key=values.index)
            base = Decimal(rng.randrange(500, 25000)) / 100
            variant_plan.append((product, chosen, option, base))
        Product.objects.bulk_create(product_rows, batch_size=500)
        report(f"{len(product_rows)} products")

        variant_rows: list[Variant] = []
        for index, (product, chosen, option, base) in enumerate(variant_plan, start=1):
            for position, value in enumerate(chosen):
                price = (base + Decimal(position * 2)).quantize(Decimal("0.01"))
                on_sale = rng.random() < 0.2
                variant_rows.append(
                    Variant(
                        product=product,
                        sku=f"DEMO-{index:05d}-{slugify(value).upper()}",
                        name=value.upper() if option == "size" else value.title(),
                        price=price,
                        currency="EUR",
                        compare_at_price=(price * Decimal("1.25")).quantize(Decimal("0.01")) if on_sale else None,
                        option_values={option: value, **({"colour": rng.choice(COLOURS)} if option == "size" else {})},
                        weight_grams=rng.randrange(50, 2500),
                        position=position,
                    )
                )
        Variant.objects.bulk_create(variant_rows, batch_size=1000)
        report(f"{len(variant_rows)} variants")
        Stock.objects.bulk_create(
            [Stock(variant=variant, on_hand=rng.choice([0, 0, 3, 5, 10, 25, 50, 100])) for variant in variant_rows],
            batch_size=1000,
        )
        report(f"{len(variant_rows)} stock rows")
        product_listing_refresh()
    return SeedSummary(categories=categories, products=len(product_rows), variants=len(variant_rows))
