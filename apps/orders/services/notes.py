"""Staff notes on an order."""

from __future__ import annotations

from apps.core.db import atomic
from apps.core.exceptions import ValidationFailed
from apps.orders.models import Order, OrderNote

SERVICE = "orders"


def order_note_add(*, order: Order, author: str, body: str) -> OrderNote:
    """Add a note by `author` (a staff username) to the order."""
    body = body.strip()
    if not body or len(body) > 2000:
        raise ValidationFailed({"body": ["Write a note of 1 to 2000 characters."]})
    with atomic(SERVICE):
        return OrderNote.objects.create(order=order, author=author, body=body)
