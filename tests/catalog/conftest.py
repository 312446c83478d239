"""Fixtures of the catalog tests."""

from __future__ import annotations

import pytest

LIST_URL = "/api/v1/catalog/products/"


@pytest.fixture
def list_url() -> str:
    return LIST_URL
