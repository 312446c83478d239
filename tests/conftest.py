"""Shared fixtures. Tests use PostgreSQL, one database per service alias (config.settings.test)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.tracing import memory_exporter, memory_exporter_active

# localstripe, for the tests of the Stripe provider (payments) and the saga over it (orders): one
# server per session, whichever of them runs.
pytest_plugins = ["tests.localstripe"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture(autouse=True)
def _forget_spans():
    """The in-memory exporter (TRACING_EXPORTER=memory) keeps every span of the session unless
    cleared: each test's spans go when it ends."""
    yield
    if memory_exporter_active():
        memory_exporter().clear()
