"""Fixtures for messaging tests: a moto server (SNS, SQS, S3) and services in the split shape,
each with its own PostgreSQL database and a real Celery worker consuming its SQS queue."""

from __future__ import annotations

import os

import pytest

from tests.messaging.stack import MotoServer, SplitStack

SERVICES_UNDER_TEST = ("users", "catalog", "notifications")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    # MESSAGING_MOTO_PORT pins the port (where a machine allots ports per user); else a free one.
    port = int(os.environ["MESSAGING_MOTO_PORT"]) if os.environ.get("MESSAGING_MOTO_PORT") else None
    server = MotoServer(tmp_path_factory.mktemp("moto"), port=port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def split_stack(moto_server, tmp_path_factory):
    # Each xdist worker builds its own stack: with one database name for all, one worker's
    # DROP DATABASE ... WITH (FORCE) ends the other's migrate halfway.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    stack = SplitStack(
        moto_server,
        tmp_path_factory.mktemp("split"),
        db_prefix=os.environ.get("TEST_DB_PREFIX", "shopstack") + "_msg" + (f"_{worker}" if worker else ""),
    )
    for service in SERVICES_UNDER_TEST:
        stack.create_database(service)
    first = stack.manage("users", "provision_aws").stdout
    assert "created: topic" in first
    for service in SERVICES_UNDER_TEST:
        stack.start_worker(service)
    yield stack
    stack.stop()
    for service in SERVICES_UNDER_TEST:
        stack.drop_database(service)
