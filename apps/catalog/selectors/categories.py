"""The category tree's reads: the nested tree the API shows, whether a category exists, and each
category's ancestry (the variant lookup's category slugs)."""

from __future__ import annotations

from typing import Any

from apps.catalog.models import Category
from apps.core.exceptions import ValidationFailed


def category_tree() -> list[dict[str, Any]]:
    """Every category, nested under its parent, siblings by position then name."""
    nodes = {
        row["id"]: {**row, "children": []}
        for row in Category.objects.order_by("position", "name").values("id", "name", "slug", "parent_id", "position")
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.pop("parent_id"))
        (parent["children"] if parent else roots).append(node)
    return roots


def category_exists(*, slug: str) -> bool:
    return Category.objects.filter(slug=slug).exists()


class UnknownCategory(ValidationFailed):
    """A list filtered by a category that does not exist: a bad request, not an empty list."""

    def __init__(self, slug: str) -> None:
        super().__init__({"category": [f"There is no category {slug!r}."]})


def category_ancestry() -> dict[int, list[str]]:
    """category id -> its slug, then its parent's, up to the root (one query: the tree is small)."""
    parents = {pk: (slug, parent) for pk, slug, parent in Category.objects.values_list("id", "slug", "parent_id")}
    ancestry: dict[int, list[str]] = {}
    for pk in parents:
        slugs, current, seen = [], pk, set()
        while current is not None and current in parents and current not in seen:
            seen.add(current)
            slug, current = parents[current]
            slugs.append(slug)
        ancestry[pk] = slugs
    return ancestry
