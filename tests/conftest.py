"""Shared fixtures. Tests use PostgreSQL, one database per service alias (config.settings.test)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.tracing import memory_exporter, memory_exporter_active

# Under xdist with --dist loadgroup (scripts/test: -n 2) each group runs on one worker: a test module
# by default, so its module-scoped fixtures (a server, migrated databases) are set up once and not
# on each worker; tests/messaging as one group, all of it sharing one split stack (its conftest).
_MESSAGING = "tests/messaging/"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.iter_markers("xdist_group")):
            module = item.nodeid.split("::", 1)[0]
            item.add_marker(pytest.mark.xdist_group("messaging" if module.startswith(_MESSAGING) else module))


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
