"""Fixtures of the orders tests: signed-in shoppers, a catalog to price against, placed orders,
and the outbox to assert published events on."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.catalog.contracts.client import CatalogUnavailable, VariantSnapshot
from apps.core.events import Envelope
from apps.core.events.handlers import deliver
from apps.orders import integrations
from apps.orders.models import Order, OutboxEvent
from apps.orders.pricing.demo import pricing_demo_seed
from apps.orders.pricing.rules import pricing_rules_forget
from apps.orders.services.cart import cart_line_add
from apps.orders.services.checkout import order_checkout
from tests.core.tokens import access_token


@dataclass(frozen=True)
class Shopper:
    id: uuid.UUID
    email: str


def make_shopper() -> Shopper:
    shopper_id = uuid.uuid4()
    return Shopper(id=shopper_id, email=f"{shopper_id.hex[:8]}@example.com")


def client_for(shopper: Shopper | None) -> APIClient:
    client = APIClient()
    if shopper is not None:
        token = access_token(subject=shopper.id, email=shopper.email)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def pricing_rules(request) -> None:
    """Every database test starts with the demo pricing rules: the UK ships standard at 4.90
    (free from 50.00) and taxes at 20 %, as the shop did before zones and rates were data."""
    # A test's rows are rolled back without signals: no process copy of the rules may outlive it.
    pricing_rules_forget()
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("django_db_blocker")
        pricing_demo_seed()


@pytest.fixture
def shopper() -> Shopper:
    return make_shopper()


@pytest.fixture
def other_shopper() -> Shopper:
    return make_shopper()


@pytest.fixture
def shopper_client(shopper) -> APIClient:
    return client_for(shopper)


# --- A fake catalog -------------------------------------------------------------------------------
# TEST DOUBLE, only here: it stands in for catalog's contract client (CatalogClient.variants) and
# is injected by replacing apps.orders.integrations.catalog_client. The tests that need the real
# catalog API run it under live_server (tests/orders/test_full_saga.py).


@dataclass
class FakeCatalogClient:
    variants_by_sku: dict[str, VariantSnapshot] = field(default_factory=dict)
    down: bool = False
    calls: list[list[str]] = field(default_factory=list)

    def add(
        self,
        sku: str,
        *,
        price: str = "10.00",
        currency: str = "EUR",
        available: int = 100,
        active: bool = True,
        name: str | None = None,
    ) -> VariantSnapshot:
        snapshot = VariantSnapshot(
            sku=sku,
            product_name=name or f"Product {sku}",
            variant_name=f"Variant {sku}",
            price=Decimal(price),
            currency=currency,
            available=available,
            active=active,
        )
        self.variants_by_sku[sku] = snapshot
        return snapshot

    def variants(self, skus: Iterable[str], *, headers: Mapping[str, str] | None = None) -> dict[str, VariantSnapshot]:
        wanted = sorted(set(skus))
        self.calls.append(wanted)
        if self.down:
            raise CatalogUnavailable("fake catalog is down")
        return {sku: self.variants_by_sku[sku] for sku in wanted if sku in self.variants_by_sku}


@pytest.fixture
def catalog(monkeypatch) -> FakeCatalogClient:
    fake = FakeCatalogClient()
    fake.add("MUG-01", price="12.50")
    fake.add("TEE-RED-M", price="19.99")
    fake.add("POSTER-A2", price="7.25", available=1)
    monkeypatch.setattr(integrations, "catalog_client", lambda: fake)
    return fake


# --- Orders ----------------------------------------------------------------------------------------

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


@pytest.fixture
def place_order(catalog) -> Callable[..., Order]:
    """Puts `lines` in the shopper's cart and checks out (through the services)."""

    def place(shopper: Shopper, lines: Mapping[str, int] | None = None, *, key: str | None = None) -> Order:
        for sku, quantity in (lines or {"MUG-01": 2}).items():
            cart_line_add(customer_id=shopper.id, sku=sku, quantity=quantity)
        return order_checkout(
            customer_id=shopper.id,
            email=shopper.email,
            idempotency_key=key or uuid.uuid4().hex,
            shipping_address=ADDRESS,
            payment_method_token="pm_test_visa",
        ).order

    return place


def event(event_type: str, producer: str, **payload) -> Envelope:
    return Envelope(type=event_type, producer=producer, payload=payload, trace_id="test-trace")


def send(event_type: str, producer: str, **payload) -> bool:
    """Deliver one event to orders' handler, as the transport would."""
    return deliver("orders", event(event_type, producer, **payload))


def published(event_type: str, order: Order | None = None) -> list[dict]:
    rows = OutboxEvent.objects.filter(event_type=event_type).order_by("occurred_at")
    payloads = [row.payload for row in rows]
    if order is not None:
        payloads = [payload for payload in payloads if payload.get("order_id") == str(order.id)]
    return payloads


def advance_to_confirmed(order: Order, *, amount: str | None = None) -> Order:
    send("stock.reserved", "catalog", order_id=str(order.id), lines=[])
    send(
        "payment.succeeded",
        "payments",
        order_id=str(order.id),
        payment_id=f"pay_{order.id.hex[:8]}",
        amount=amount or str(order.total),
        currency=order.currency,
    )
    order.refresh_from_db()
    return order
