"""Shared fixtures. Tests use PostgreSQL, one database per service alias (config.settings.test)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

# localstripe, for the tests of the Stripe provider (payments) and the saga over it (orders): one
# server per session, whichever of them runs.
pytest_plugins = ["tests.localstripe"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
