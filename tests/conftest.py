"""Shared fixtures. Tests use PostgreSQL, one database per service alias (config.settings.test)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
