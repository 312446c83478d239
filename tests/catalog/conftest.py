"""Fixtures of the catalog tests."""

from __future__ import annotations

import pytest

from apps.catalog.api.views import RESPONSES
from apps.catalog.selectors import first_pages

LIST_URL = "/api/v1/catalog/products/"


@pytest.fixture(autouse=True)
def no_category_tree_kept():
    """Each test starts with no category tree kept in the process (first_pages._CategoryTree), so
    the queries a test counts do not depend on the tests before it."""
    first_pages._CATEGORY_TREES.clear()
    yield
    first_pages._CATEGORY_TREES.clear()


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
