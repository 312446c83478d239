"""The all-in-one shop as scripts/run serves it (runserver, six SQLite files, events in-process),
on a port other than 8000, under concurrent shoppers: no request fails on a database lock, and
every URL the shop hands out points back at its own port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _worker_port() -> int:
    """8260, plus the xdist worker's number: a port per worker, below the kernel's ephemeral range.
    A "free" port from that range, taken at collection and bound only after the migrations, was
    meanwhile the source port of some other connection ("That port is already in use")."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 8260 + int(worker.removeprefix("gw") or 0)


# TEST_ALL_IN_ONE_PORT pins one. Any port but 8000 shows the shop's URLs follow it.
PORT = int(os.environ.get("TEST_ALL_IN_ONE_PORT") or _worker_port())
BASE_URL = f"http://127.0.0.1:{PORT}"
PASSWORD = "A-concurrent-Passphrase-42"
ADDRESS = {"full_name": "Eve Tester", "line1": "1 Loopback Lane", "city": "Localhost", "postal_code": "12700"}


def _environment(var_dir: Path) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SERVICE", "DATABASE_URL", "JWT_ISSUER", "SHOP_FRONTEND_URL", "CATALOG_API_URL"}
        and not key.endswith("_DATABASE_URL")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        SHOPSTACK_VAR_DIR=str(var_dir),
        PORT=str(PORT),
        LOG_FORMAT="plain",
        # Many shoppers from one address in a few seconds: not what this test is about.
        THROTTLE_REGISTER="10000/minute",
        THROTTLE_LOGIN="10000/minute",
        THROTTLE_PASSWORD_RESET="10000/minute",
    )
    return environment


def _manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Iterator[Path]:
    """A fresh all-in-one shop, set up with the plain `manage.py migrate` every Django developer
    types; yields the file the server's console (and so its emails) goes to."""
    var_dir = tmp_path_factory.mktemp("all-in-one")
    environment = _environment(var_dir)
    for command in (("migrate", "--noinput"), ("seed_demo", "--if-empty", "--products", "12"), ("seed_pricing_demo",)):
        result = _manage(environment, *command)
        assert result.returncode == 0, result.stderr
    console = var_dir / "console.log"
    with console.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{PORT}"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{BASE_URL}/health/ready", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, console.read_text()
            time.sleep(0.2)
        yield console
    finally:
        server.terminate()
        server.wait(timeout=10)


def _all_at_once(count: int, call: Callable[[int], requests.Response]) -> list[requests.Response]:
    """Runs `call(i)` for i in range(count), each in its own thread, released together."""
    barrier = threading.Barrier(count)
    responses: list[requests.Response | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        responses[index] = call(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(response is not None for response in responses), "a request never answered"
    return responses


def _register(email: str) -> requests.Response:
    body = {"email": email, "password": PASSWORD, "first_name": "Eve", "last_name": "Tester"}
    return requests.post(f"{BASE_URL}/api/v1/users/register/", json=body, timeout=60)


def _log_in(email: str) -> dict[str, str]:
    response = requests.post(f"{BASE_URL}/api/v1/users/token/", json={"email": email, "password": PASSWORD}, timeout=60)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _statuses(responses: list[requests.Response]) -> list[int]:
    return sorted(response.status_code for response in responses)


def test_concurrent_registrations_all_succeed(shop):
    responses = _all_at_once(20, lambda index: _register(f"burst-{uuid.uuid4().hex[:10]}@example.com"))

    assert _statuses(responses) == [201] * 20, [response.text[:200] for response in responses]


def test_concurrent_shoppers_add_addresses_fill_carts_and_check_out(shop):
    emails = [f"buyer-{uuid.uuid4().hex[:10]}@example.com" for _ in range(8)]
    assert _statuses(_all_at_once(8, lambda index: _register(emails[index]))) == [201] * 8
    headers = [_log_in(email) for email in emails]
    products = requests.get(f"{BASE_URL}/api/v1/catalog/products/", params={"in_stock": "true"}, timeout=10).json()
    skus = [
        next(variant["sku"] for variant in product["variants"] if variant["available"] > 0)
        for product in (
            requests.get(f"{BASE_URL}/api/v1/catalog/products/{item['slug']}/", timeout=10).json()
            for item in products["results"][:2]
        )
    ]

    addresses = _all_at_once(
        8,
        lambda index: requests.post(
            f"{BASE_URL}/api/v1/users/addresses/", json={**ADDRESS, "country": "GB"}, headers=headers[index], timeout=60
        ),
    )
    carts = _all_at_once(
        8,
        lambda index: requests.post(
            f"{BASE_URL}/api/v1/orders/cart/lines/",
            json={"sku": skus[index % len(skus)], "quantity": 1},
            headers=headers[index],
            timeout=60,
        ),
    )
    checkouts = _all_at_once(
        8,
        lambda index: requests.post(
            f"{BASE_URL}/api/v1/orders/",
            json={"shipping_address": {**ADDRESS, "country": "GB"}, "payment_method_token": "tok_success"},
            headers={**headers[index], "Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        ),
    )

    assert _statuses(addresses) == [201] * 8, [response.text[:200] for response in addresses]
    assert all(response.status_code in (200, 201) for response in carts), [response.text[:200] for response in carts]
    assert _statuses(checkouts) == [201] * 8, [response.text[:200] for response in checkouts]


def test_every_url_the_shop_hands_out_points_at_its_own_port(shop):
    email = f"links-{uuid.uuid4().hex[:10]}@example.com"
    assert _register(email).status_code == 201
    discovery = requests.get(f"{BASE_URL}/.well-known/openid-configuration", timeout=10).json()
    token = _log_in(email)["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})

    reset = requests.post(f"{BASE_URL}/api/v1/users/password-reset/", json={"email": email}, timeout=30)

    own = f"http://localhost:{PORT}"
    assert discovery["issuer"] == own == claims["iss"]
    assert discovery["jwks_uri"] == f"{own}/.well-known/jwks.json"
    assert requests.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    assert reset.status_code == 202, reset.text
    console = shop.read_text()
    assert f"{own}/reset-password?token=" in console
    # Orders prices a cart through catalog's API: on this port, or adding a line would fail.
    assert ":8000" not in console
