"""Fixtures of the notifications tests: a moto server for SNS (SMS) and SES, shopper tokens, and
helpers that publish sample events the way producers do."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.core.auth.keys import ALGORITHM, signing_key
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
            return json.loads(response.read())["sns"].get("SMS", [])


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


# --- Shoppers and tokens --------------------------------------------------------------------------


def access_token(customer_id: uuid.UUID, *, email: str = "", lifetime: timedelta = timedelta(minutes=5)) -> str:
    """An access token as the users service issues one (apps/core/auth/tokens.py's claims)."""
    kid, key = signing_key()
    now = datetime.now(UTC)
    claims = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "typ": "access",
        "sub": str(customer_id),
        "email": email,
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


@pytest.fixture
def client_for() -> Callable[..., APIClient]:
    def make(customer_id: uuid.UUID, **token_options: Any) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(customer_id, **token_options)}")
        return api

    return make
