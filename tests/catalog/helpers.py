"""Assertions the catalog tests share: problem bodies and catalog's outbox events."""

from __future__ import annotations

from functools import partial

from tests.assertions import assert_problem, outbox_payloads

events = partial(outbox_payloads, "catalog")

__all__ = ["assert_problem", "events"]
