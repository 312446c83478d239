"""Fixtures for messaging tests: a moto server (SNS, SQS, S3) and services in the split shape,
each with its own PostgreSQL database and a real Celery worker consuming its SQS queue."""

from __future__ import annotations

import os

import pytest

from tests.messaging.stack import MotoServer, SplitStack

SERVICES_UNDER_TEST = ("users", "catalog", "notifications")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def split_stack(moto_server, tmp_path_factory):
    stack = SplitStack(
        moto_server,
        tmp_path_factory.mktemp("split"),
        db_prefix=os.environ.get("TEST_DB_PREFIX", "shopstack") + "_msg",
    )
    for service in SERVICES_UNDER_TEST:
        stack.create_database(service)
    first = stack.manage("users", "provision_aws").stdout
    assert "created: topic" in first
    for service in SERVICES_UNDER_TEST:
        if service != "users":
            stack.start_worker(service)
    yield stack
    stack.stop()
    for service in SERVICES_UNDER_TEST:
        stack.drop_database(service)
