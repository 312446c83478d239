"""A moto server for the tests that send through AWS (SNS SMS, SES): `moto` points every AWS
client at it for one test; import both fixtures into the conftest of the tests that need them."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from apps.core.aws import client as aws_client

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moto:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def sms_messages(self) -> list[dict[str, Any]]:
        """What the moto server received as SMS (its model dump, /moto-api/data.json)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=10) as response:
            return json.loads(response.read()).get("sns", {}).get("SMS", [])


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"moto server did not start; see {log}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def moto(moto_endpoint, settings, monkeypatch) -> Iterator[Moto]:
    """Point every AWS client at the moto server for this test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_ENDPOINT_URL = moto_endpoint
    settings.AWS_SNS_ENDPOINT_URL = None
    settings.AWS_SES_ENDPOINT_URL = None
    aws_client.cache_clear()
    yield Moto(moto_endpoint)
    aws_client.cache_clear()
