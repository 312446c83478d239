"""The deploy templates, parsed once per test module (tests that break one deep-copy it first)."""

from __future__ import annotations

import pytest

from tests.deploy.templates import load


@pytest.fixture(scope="module")
def platform() -> dict:
    return load("platform")


@pytest.fixture(scope="module")
def service() -> dict:
    return load("service")


@pytest.fixture(scope="module")
def asg() -> dict:
    return load("service-asg")


@pytest.fixture(scope="module")
def pipeline() -> dict:
    return load("pipeline")
