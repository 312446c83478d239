"""What several stories of the catalog service share: the producer name and an order's lines
summed per SKU."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

PRODUCER = "catalog"


def requested(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    wanted: Counter[str] = Counter()
    for sku, quantity in lines:
        wanted[str(sku)] += int(quantity)
    return dict(sorted(wanted.items()))
