"""Fault tests against the running split stack (scripts/stack up): a worker killed mid-batch, the
moto server stopped for 10 seconds, catalog's web process down during checkout, and every event
delivered twice. Each ends by proving nothing was lost and nothing was done twice, and prints
a line such as `orders placed 60, confirmed 52, cancelled 8, lost 0, double-charged 0`; the last
checks the money invariant (manage.py check_money_invariant) for every order the stack holds.

Payments run on the stack's provider: Stripe's stand-in (localstripe) by default, where charges
are counted at the provider (its PaymentIntents per order), or the sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import boto3
import psycopg
import pytest

from devstack import stack
from tests.e2e.client import STRIPE, FakeStripe, Shopper, eventually, payment_token

pytestmark = pytest.mark.fault

BATCH = int(os.environ.get("FAULT_BATCH", "40"))
# A declined card leaves its order waiting for the shopper to pay with another card until the
# payment deadline (stock held, no money taken): the saga has done its part, nothing is stuck.
AWAITING_SHOPPER = "awaiting another card"
FINAL = {"confirmed", "cancelled", AWAITING_SHOPPER}
ADDRESS = {
    "full_name": "Fay Ult",
    "line1": "1 Chaos Road",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}


def _query(service: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(stack.database_url(service)) as connection:
        return connection.execute(sql, params).fetchall()


def _scalar(service: str, sql: str, params: tuple = ()) -> int:
    return _query(service, sql, params)[0][0]


@pytest.fixture(scope="module")
def shopper() -> Shopper:
    shopper = Shopper()
    shopper.register_and_log_in()
    return shopper


@pytest.fixture(scope="module")
def skus(shopper) -> list[str]:
    listing = shopper.call("GET", "/api/v1/catalog/products/", params={"in_stock": "true", "page_size": 50})
    slugs = [product["slug"] for product in listing.json()["results"]]
    found = []
    for slug in slugs:
        detail = shopper.call("GET", f"/api/v1/catalog/products/{slug}/").json()
        # Enough units that a batch never runs a SKU dry: a shortage is not the fault under test.
        found += [variant["sku"] for variant in detail["variants"] if variant["available"] >= 20]
    assert len(found) >= 10
    return found


# Stripe: the payment methods the proxy answers with 503s (twice per idempotency key) before
# localstripe sees them, as a briefly unavailable Stripe would.
_TRANSIENT: dict[str, int] = {}


def _transient_token() -> str:
    if not STRIPE:
        return payment_token("transient")
    token = payment_token()
    _TRANSIENT[token] = 2
    FakeStripe().faults(transient=_TRANSIENT)
    return token


def _payment_token(index: int) -> str:
    """Mostly good cards, with declines (the compensating path) and transient provider errors
    (the retried path) mixed in, so every fault hits all three."""
    if index % 8 == 7:
        return payment_token("declined")
    if index % 8 == 3:
        return _transient_token()
    return payment_token()


def _checkout(shopper: Shopper, sku: str, token: str) -> tuple[int, dict]:
    added = shopper.call("POST", "/api/v1/orders/cart/lines/", json={"sku": sku, "quantity": 1})
    if added.status_code not in (200, 201):
        return added.status_code, added.json()
    response = shopper.call(
        "POST",
        "/api/v1/orders/",
        json={"shipping_address": ADDRESS, "payment_method_token": token},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    return response.status_code, response.json()


def _place_batch(shopper: Shopper, skus: list[str], count: int, placed: list[str]) -> None:
    for index in range(count):
        status, body = _checkout(shopper, skus[index % len(skus)], _payment_token(index))
        if status == 201:
            placed.append(body["id"])
        else:
            # A refused checkout keeps the cart; empty it so one refusal cannot refuse the rest.
            for line in shopper.call("GET", "/api/v1/orders/cart/").json().get("lines", []):
                shopper.call("DELETE", f"/api/v1/orders/cart/lines/{line['sku']}/")


def _settle(order_ids: list[str], *, timeout: float = 240) -> Counter:
    def statuses() -> Counter:
        rows = _query(
            "orders",
            "SELECT status, payment_status FROM orders_order WHERE id = ANY(%s)",
            ([uuid.UUID(i) for i in order_ids],),
        )
        return Counter(
            AWAITING_SHOPPER if (status, payment) == ("payment_action_required", "failed") else status
            for status, payment in rows
        )

    try:
        return eventually(
            lambda: (counts := statuses()) and sum(counts[s] for s in FINAL) == len(order_ids) and counts,
            timeout=timeout,
            interval=1,
            what="every order in a final state",
        )
    except AssertionError:
        return statuses()


def _queue_depth() -> int:
    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{stack.MOTO_PORT}",
        region_name="us-east-1",
        aws_access_key_id="stack",
        aws_secret_access_key="stack",
    )
    depth = 0
    for name in ("catalog", "orders", "payments", "notifications"):
        url = sqs.get_queue_url(QueueName=f"shopstack-{name}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        depth += int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return depth


def _wait_until_queues_drain() -> None:
    time.sleep(2)  # let SNS fan the replay out
    eventually(
        lambda: _queue_depth() == 0 and (time.sleep(2) or _queue_depth() == 0), timeout=180, what="queues drained"
    )


def _stripe_charges_by_key() -> Counter:
    """Succeeded PaymentIntents at the provider, per the shop's idempotency key (its metadata)."""
    charged: Counter = Counter()
    for intent in FakeStripe().all_payment_intents():
        key = (intent.get("metadata") or {}).get("shopstack_idempotency_key")
        if key and intent["status"] == "succeeded":
            charged[key] += 1
    return charged


def _charges() -> int:
    """Succeeded charges at the provider: localstripe's PaymentIntents, or the sandbox's books."""
    if STRIPE:
        return sum(_stripe_charges_by_key().values())
    return _scalar("payments", "SELECT count(*) FROM payments_sandboxcharge WHERE outcome = 'succeeded'")


def _double_charged(order_ids: list[str], statuses: Counter, charges_before: int) -> int:
    """Charges beyond one per confirmed order. On Stripe, counted per order at the provider:
    every succeeded PaymentIntent with the order's key, less one if the order is confirmed."""
    if not STRIPE:
        return (_charges() - charges_before) - statuses["confirmed"]
    ids = ([uuid.UUID(i) for i in order_ids],)
    keys = _query(
        "payments", "SELECT order_id, idempotency_key FROM payments_paymentintent WHERE order_id = ANY(%s)", ids
    )
    confirmed = {
        order
        for (order,) in _query("orders", "SELECT id FROM orders_order WHERE id = ANY(%s) AND status = 'confirmed'", ids)
    }
    charged = _stripe_charges_by_key()
    return sum(max(0, charged[key] - (order in confirmed)) for order, key in keys)


def _report(label: str, order_ids: list[str], statuses: Counter, charges_before: int) -> tuple[int, int]:
    confirmed = statuses["confirmed"]
    lost = len(order_ids) - sum(statuses[s] for s in FINAL)
    double_charged = _double_charged(order_ids, statuses, charges_before)
    print(
        f"\n{label}: orders placed {len(order_ids)}, confirmed {confirmed}, cancelled {statuses['cancelled']}, "
        f"{AWAITING_SHOPPER} {statuses[AWAITING_SHOPPER]}, lost {lost}, double-charged {double_charged}"
    )
    return lost, double_charged


def _with_fault_midway(shopper, skus, fault) -> list[str]:
    placed: list[str] = []
    worker = threading.Thread(target=_place_batch, args=(shopper, skus, BATCH, placed))
    worker.start()
    eventually(lambda: len(placed) >= BATCH // 3, timeout=120, interval=0.1, what="a third of the batch placed")
    fault()
    worker.join(timeout=600)
    return placed


def test_a_worker_killed_mid_batch_loses_nothing(shopper, skus):
    charges_before = _charges()

    def kill_and_restart() -> None:
        stack.kill("orders-worker", signal.SIGKILL)
        time.sleep(5)
        stack.start("orders-worker")

    placed = _with_fault_midway(shopper, skus, kill_and_restart)
    lost, double_charged = _report("worker killed", placed, _settle(placed), charges_before)
    assert len(placed) == BATCH and lost == 0 and double_charged == 0


def test_moto_stopped_for_ten_seconds_loses_nothing(shopper, skus):
    charges_before = _charges()

    def stop_moto() -> None:
        stack.signal_process("moto", signal.SIGSTOP)
        try:
            time.sleep(10)
        finally:
            stack.signal_process("moto", signal.SIGCONT)

    placed = _with_fault_midway(shopper, skus, stop_moto)
    lost, double_charged = _report("moto stopped 10 s", placed, _settle(placed), charges_before)
    assert len(placed) == BATCH and lost == 0 and double_charged == 0


def test_catalog_down_during_checkout_is_a_clear_503_and_no_half_order(shopper, skus):
    orders_before = _scalar("orders", "SELECT count(*) FROM orders_order")
    added = shopper.call("POST", "/api/v1/orders/cart/lines/", json={"sku": skus[0], "quantity": 1})
    assert added.status_code in (200, 201)
    stack.kill("catalog-web", signal.SIGTERM)
    try:
        response = shopper.call(
            "POST",
            "/api/v1/orders/",
            json={"shipping_address": ADDRESS, "payment_method_token": payment_token()},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    finally:
        stack.start("catalog-web")
    assert response.status_code == 503
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "catalog_unavailable"
    assert _scalar("orders", "SELECT count(*) FROM orders_order") == orders_before
    print(f"\ncatalog down: checkout answered 503 {response.json()['code']}, orders created 0")
    eventually(lambda: shopper.call("GET", "/api/v1/catalog/categories/").status_code == 200, what="catalog back")


def test_every_event_delivered_twice_changes_nothing(shopper, skus):
    charges_before = _charges()
    placed: list[str] = []
    _place_batch(shopper, skus, BATCH // 2, placed)
    statuses = _settle(placed)
    # An order is final before everything its last event causes has happened (the shopper's
    # email, for one): let that land first, or it would show up as a change made by the replay.
    _wait_until_queues_drain()

    def snapshot() -> dict:
        return {
            "orders": _query("orders", "SELECT id, status, amount_captured FROM orders_order ORDER BY id"),
            "charges": _charges(),
            "reservations": _query("catalog", "SELECT order_id, status FROM catalog_reservation ORDER BY order_id"),
            "stock": _query("catalog", "SELECT variant_id, on_hand, reserved FROM catalog_stock ORDER BY variant_id"),
            "deliveries": _scalar("notifications", "SELECT count(*) FROM notifications_delivery"),
        }

    before = snapshot()
    inboxes_before = {s: _scalar(s, f"SELECT count(*) FROM {s}_inboxevent") for s in ("catalog", "orders", "payments")}
    for service in ("users", "catalog", "orders", "payments"):
        stack._manage(service, "replay_events")
    _wait_until_queues_drain()

    after = snapshot()
    assert after == before
    assert {s: _scalar(s, f"SELECT count(*) FROM {s}_inboxevent") for s in inboxes_before} == inboxes_before
    lost, double_charged = _report("every event twice", placed, statuses, charges_before)
    assert lost == 0 and double_charged == 0


def _ledger(service: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", f"{service}_money_ledger"],
        cwd=stack.ROOT,
        env=stack.service_env(service),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_the_money_invariant_holds_for_every_order(tmp_path):
    """Last (the module runs in order): once everything the faults set moving has settled, for
    every order of the stack, captured minus refunded in orders equals charged minus refunded in
    payments."""
    _wait_until_queues_drain()
    (tmp_path / "orders.json").write_text(_ledger("orders"))
    (tmp_path / "payments.json").write_text(_ledger("payments"))
    checked = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check_money_invariant",
            "--orders",
            str(tmp_path / "orders.json"),
            "--payments",
            str(tmp_path / "payments.json"),
        ],
        cwd=stack.ROOT,
        env=stack.service_env("payments"),
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"\n{checked.stdout.strip()}")
    assert checked.returncode == 0, checked.stderr
    assert "0 differ" in checked.stdout
