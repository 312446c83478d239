"""The notifications service publishes nothing; it subscribes to the events it tells shoppers of."""

from __future__ import annotations

PUBLISHES: tuple[str, ...] = ()
SUBSCRIBES = ("staff.changed",)
