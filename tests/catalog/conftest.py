"""Fixtures of the catalog tests."""

from __future__ import annotations

import pytest

from apps.catalog.api.views import RESPONSES

LIST_URL = "/api/v1/catalog/products/"


@pytest.fixture
def list_url() -> str:
    return LIST_URL


@pytest.fixture
def response_cache(settings):
    """Catalog answers kept 5 s, as production keeps them (15 s), starting and ending empty."""
    settings.CATALOG_RESPONSE_CACHE_SECONDS = 5
    RESPONSES.clear()
    yield RESPONSES
    RESPONSES.clear()
