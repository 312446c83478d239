"""Fixtures of the catalog admin tests: a signed-in superuser, and uploads kept in a temporary
MEDIA_ROOT."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def staff_client() -> Client:
    user = get_user_model().objects.create_superuser("alice", "alice@example.com", "pw-alice-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
