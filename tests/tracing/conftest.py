"""Fixtures for the tracing tests: the spans this process recorded (TRACING_EXPORTER=memory in the
test settings), cleared before each test."""

from __future__ import annotations

import pytest

from apps.core.tracing import memory_exporter
from tests.orders.conftest import pricing_rules  # noqa: F401  (autouse: the demo shipping rules)


@pytest.fixture
def spans():
    """Call it for the spans finished so far in this test."""
    exporter = memory_exporter()
    exporter.clear()
    yield exporter.get_finished_spans
    exporter.clear()


def trace_of(spans, trace_id: int) -> list:
    return [span for span in spans if span.context.trace_id == trace_id]


def named(spans, name: str) -> list:
    return [span for span in spans if span.name == name]
