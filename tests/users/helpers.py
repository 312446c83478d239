"""Assertions the users tests share: problem bodies and users's outbox events."""

from __future__ import annotations

from functools import partial

from tests.assertions import assert_problem, outbox_payloads

events = partial(outbox_payloads, "users")

__all__ = ["assert_problem", "events"]
