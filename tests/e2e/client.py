"""An HTTP client for the end-to-end suite: a shopper through the public API and a staff member
through the Django admin, against a running shop (the split stack behind its gateway, or the
all-in-one server), and what the shopper's browser and the provider do at the fake Stripe
(localstripe behind devstack/localstripe.py's proxy). Nothing here imports the project: it speaks
HTTP only (and runs the shop's manage.py commands where staff or cron would, E2E_MANAGE)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from html import unescape
from pathlib import Path

import requests
import stripe

BASE_URL = os.environ.get("E2E_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
# The split shape mounts each service's admin at /admin/<service>/; all-in-one has one /admin/.
SPLIT = os.environ.get("E2E_SHAPE", "split") == "split"
STAFF_USERNAME = os.environ.get("E2E_STAFF_USERNAME", "e2e-staff")
STAFF_PASSWORD = os.environ.get("E2E_STAFF_PASSWORD", "")
TIMEOUT = 10
# The shop's payments provider: `sandbox` (test tokens) or `stripe` (localstripe at
# E2E_STRIPE_API_BASE, the shop's webhook signed under E2E_STRIPE_WEBHOOK_SECRET).
PAYMENTS_PROVIDER = os.environ.get("E2E_PAYMENTS_PROVIDER", "sandbox")
STRIPE = PAYMENTS_PROVIDER == "stripe"
STRIPE_API_BASE = os.environ.get("E2E_STRIPE_API_BASE", "").rstrip("/")
STRIPE_WEBHOOK_SECRET = os.environ.get("E2E_STRIPE_WEBHOOK_SECRET", "")
# The command that runs manage.py in a service's environment, `{service}` standing for its name:
# "python -m devstack.stack manage {service}" (split) or "python manage.py" (all-in-one).
MANAGE = shlex.split(os.environ.get("E2E_MANAGE", ""))
WEBHOOK_PATH = "/api/v1/payments/webhooks/stripe/"
ADDRESS = {
    "full_name": "Sam Aga",
    "line1": "2 Loopback Lane",
    "city": "Localhost",
    "postal_code": "12700",
    "country": "GB",
}


def admin_url(service: str, path: str = "") -> str:
    prefix = f"/admin/{service}/" if SPLIT else "/admin/"
    return f"{BASE_URL}{prefix}{path}"


def eventually(probe, *, timeout: float = 60, interval: float = 0.5, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
        time.sleep(interval)


@dataclass
class Shopper:
    email: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:10]}@example.com")
    password: str = "An-e2e-Passphrase-42"
    session: requests.Session = field(default_factory=requests.Session)
    access_token: str = ""

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return self.session.request(method, f"{BASE_URL}{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    def add_to_cart(self, sku: str, quantity: int = 1) -> None:
        added = self.call("POST", "/api/v1/orders/cart/lines/", json={"sku": sku, "quantity": quantity})
        assert added.status_code in (200, 201), added.text

    def checkout(self, payment_method_token: str, *, address: dict | None = None, **extra) -> requests.Response:
        """Place the cart as an order (a new Idempotency-Key); `extra` goes into the body."""
        body = {"shipping_address": address or ADDRESS, "payment_method_token": payment_method_token, **extra}
        return self.call("POST", "/api/v1/orders/", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    def order(self, order_id: str) -> dict:
        response = self.call("GET", f"/api/v1/orders/{order_id}/")
        assert response.status_code == 200, response.text
        return response.json()

    def order_when(self, order_id: str, statuses: set[str], *, timeout: float = 60) -> dict:
        """The order once its status is one of `statuses`."""
        return eventually(
            lambda: (order := self.order(order_id))["status"] in statuses and order,
            timeout=timeout,
            what=f"order {order_id} in {sorted(statuses)}",
        )

    def in_stock_variant(self, *, offset: int, units: int = 2) -> tuple[str, str]:
        """(slug, sku) of a variant with `units` in stock; `offset` keeps tests off each other's
        products."""
        listing = self.call("GET", "/api/v1/catalog/products/", params={"in_stock": "true", "page_size": 50})
        assert listing.status_code == 200, listing.text
        for product in listing.json()["results"][offset:]:
            detail = self.call("GET", f"/api/v1/catalog/products/{product['slug']}/").json()
            for variant in detail["variants"]:
                if variant["available"] >= units:
                    return product["slug"], variant["sku"]
        raise AssertionError(f"the demo catalog has a variant with {units}+ units in stock")

    def available(self, slug: str, sku: str) -> int:
        detail = self.call("GET", f"/api/v1/catalog/products/{slug}/").json()
        return next(variant["available"] for variant in detail["variants"] if variant["sku"] == sku)

    def register_and_log_in(self) -> None:
        response = self.call(
            "POST",
            "/api/v1/users/register/",
            json={"email": self.email, "password": self.password, "first_name": "Eve", "last_name": "Tester"},
        )
        assert response.status_code == 201, response.text
        response = self.call("POST", "/api/v1/users/token/", json={"email": self.email, "password": self.password})
        assert response.status_code == 200, response.text
        self.access_token = response.json()["access_token"]


def signed_in_shopper() -> Shopper:
    shopper = Shopper()
    shopper.register_and_log_in()
    return shopper


class Staff:
    """Signs in to a service's admin with a session and CSRF token, like a browser."""

    def __init__(self, service: str):
        self.service = service
        # Split, each service's admin has its own cookies, so staff can use several at once.
        self.csrf_cookie = f"{service}_csrftoken" if SPLIT else "csrftoken"
        self.session = requests.Session()
        login = admin_url(service, "login/")
        self.session.get(login, timeout=TIMEOUT)
        response = self.session.post(
            login,
            data={
                "username": STAFF_USERNAME,
                "password": STAFF_PASSWORD,
                "csrfmiddlewaretoken": self.session.cookies[self.csrf_cookie],
                "next": admin_url(service),
            },
            headers={"Referer": login},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200 and "logout" in response.text.lower(), (
            f"staff sign-in to the {service} admin failed"
        )

    def get(self, path: str, **params) -> str:
        response = self.session.get(admin_url(self.service, path), params=params, timeout=TIMEOUT)
        assert response.status_code == 200, response.status_code
        return unescape(response.text)

    def refund(self, order_id: str, form: dict) -> str:
        """Refund in the orders admin as staff do: the form, then the page naming the amount,
        confirmed."""
        asked = self.post(f"orders/order/{order_id}/refund/", form)
        confirm = re.search(r'name="confirm" value="([^"]+)"', asked)
        assert confirm is not None, "the refund asks for confirmation first"
        return self.post(f"orders/order/{order_id}/refund/", {**form, "confirm": confirm.group(1)})

    def post(self, path: str, data: dict) -> str:
        url = admin_url(self.service, path)
        response = self.session.post(
            url,
            data={**data, "csrfmiddlewaretoken": self.session.cookies[self.csrf_cookie]},
            headers={"Referer": url},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.status_code
        return unescape(response.text)


def delivery_text(staff: Staff, email: str, template: str) -> str:
    """The text body of the newest sent email of `template` to one recipient, as the delivery
    log's page shows it (rendered from the stored context; the same page in both shapes), or ""
    while there is none."""
    page = staff.get(
        "notifications/delivery/", q=email, template__exact=template, channel__exact="email", status__exact="sent"
    )
    found = re.search(r"/delivery/([0-9a-f-]{36})/change/", page)
    if found is None:
        return ""
    response = staff.session.get(
        admin_url(staff.service, f"notifications/delivery/{found.group(1)}/change/"), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.status_code
    body = re.search(r'field-text_body">.*?<div class="readonly">(.*?)</div>', response.text, re.S)
    assert body is not None, "the delivery page shows the text body"
    return unescape(re.sub(r"<br\s*/?>", "\n", body.group(1)))


def delivery_templates(staff: Staff, email: str) -> list[str]:
    """Templates of the messages the notifications log holds for one recipient, as sent."""
    page = staff.get("notifications/delivery/", q=email, status__exact="sent")
    return re.findall(r'<td class="field-template">([a-z_]+)</td>', page)


# --- Paying: what the shopper's browser does, and what the provider does ----------------------------

# The shopper's card, by what it does. The sandbox takes test tokens; Stripe's test cards exist only
# at the fake Stripe, where the browser (Stripe.js) turns them into a PaymentMethod.
SANDBOX_TOKENS = {
    "success": "tok_success",
    "declined": "tok_decline",
    "transient": "tok_transient",
    "3ds_required": "tok_3ds_required",
    "3ds_fail": "tok_3ds_fail",  # its bank page fails the authentication
}
STRIPE_CARDS = {
    "success": "4242424242424242",
    "declined": "4000000000000341",  # attaches, then declined when charged
    "3ds_required": "4000002760003184",  # needs 3-D Secure on every payment
    # The same card: at Stripe the shopper fails 3-D Secure on the bank's page (at_the_bank).
    "3ds_fail": "4000002760003184",
}


def payment_token(card: str = "success") -> str:
    """The payment_method_token a checkout sends for `card` with the shop's provider: a sandbox
    token, or the id of a new PaymentMethod made at the fake Stripe (one per checkout, so the
    PaymentIntents charged with it are this checkout's)."""
    if STRIPE:
        return FakeStripe().payment_method(STRIPE_CARDS[card])
    return SANDBOX_TOKENS[card]


def at_the_bank(payment: dict, *, succeed: bool = True) -> str:
    """The shopper's browser at the bank's 3-D Secure page of the order's `payment` block (the
    sandbox's, or the fake Stripe's, where the shopper passes or fails; the sandbox's card
    decides): the shop's return URL with Stripe's parameters, where the bank sends the browser
    on (as a path on the shop)."""
    url = payment["next_action"]["redirect_url"]
    if STRIPE:
        url += f"&success={'true' if succeed else 'false'}"
    bank = requests.get(url, allow_redirects=False, timeout=30)
    assert bank.status_code == 302, bank.text
    return "/" + bank.headers["Location"].split("/", 3)[3]


def deadline_seconds_left(payment: dict) -> float:
    """Seconds until the payment's deadline (the shop runs on this machine's clock)."""
    return datetime.fromisoformat(payment["deadline"]).timestamp() - time.time()


class FakeStripe:
    """localstripe through its proxy: read its objects (with a test-mode key), steer the proxy's
    faults, and deliver Stripe-signed events to the shop as Stripe would."""

    def __init__(self) -> None:
        assert STRIPE_API_BASE, "E2E_STRIPE_API_BASE: the fake Stripe's address"
        self.session = requests.Session()
        self.session.auth = ("sk_test_e2e", "")

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, f"{STRIPE_API_BASE}{path}", timeout=TIMEOUT, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def payment_method(self, number: str) -> str:
        card = {"card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123"}
        return self._call("POST", "/v1/payment_methods", data={"type": "card", **card})["id"]

    def all_payment_intents(self) -> list[dict]:
        """Every PaymentIntent at the fake Stripe, every page, oldest first."""
        found: list[dict] = []
        params: dict[str, str | int] = {"limit": 100}
        while True:
            page = self._call("GET", "/v1/payment_intents", params=params)
            found += page["data"]
            if not page["has_more"] or not page["data"]:
                return sorted(found, key=lambda intent: intent["created"])
            params["starting_after"] = page["data"][-1]["id"]

    def payment_intent(self, intent_id: str) -> dict:
        return self._call("GET", f"/v1/payment_intents/{intent_id}")

    def payment_intents(self, *, payment_method: str) -> list[dict]:
        """Every PaymentIntent made with this payment method (oldest first)."""
        return [intent for intent in self.all_payment_intents() if intent.get("payment_method") == payment_method]

    def the_payment_intent(self, *, payment_method: str) -> dict:
        intents = self.payment_intents(payment_method=payment_method)
        assert len(intents) == 1, f"{len(intents)} PaymentIntents with {payment_method}"
        return intents[0]

    def authenticate(self, payment_intent: str, client_secret: str, *, succeed: bool = True) -> dict:
        """The shopper's answer to 3-D Secure on localstripe's test page (what Stripe.js shows)."""
        data = {"client_secret": client_secret, "success": "true" if succeed else "false"}
        return self._call("POST", f"/v1/payment_intents/{payment_intent}/_authenticate", data=data)

    def refunds(self, payment_intent: str) -> list[dict]:
        return self._call("GET", "/v1/refunds", params={"payment_intent": payment_intent, "limit": 100})["data"]

    def events(self, event_type: str, object_id: str) -> list[dict]:
        """The events localstripe made about one object."""
        page = self._call("GET", "/v1/events", params={"type": event_type, "limit": 100})
        return [event for event in page["data"] if event["data"]["object"]["id"] == object_id]

    # The proxy's faults (devstack/localstripe.py, Faults).
    def faults(self, **changes) -> dict:
        if changes:
            return self._call("POST", "/_harness/faults", json=changes)
        return self._call("GET", "/_harness/faults")

    def faults_cleared(self) -> dict:
        """Stripe behaves again: no lost answers any more; dropped, relayed and emitted stay reported."""
        return self._call("DELETE", "/_harness/faults")


def stripe_event(event_type: str, obj: dict, *, event_id: str | None = None) -> bytes:
    """An event shaped as Stripe sends it, around an object read from the fake Stripe."""
    event = {
        "id": event_id or f"evt_e2e_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def deliver_event(body: bytes, *, secret: str | None = None) -> requests.Response:
    """POST an event to the shop's Stripe webhook, signed by Stripe's SDK under the endpoint's
    secret (or another, to be refused)."""
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret or STRIPE_WEBHOOK_SECRET)
    return requests.post(
        f"{BASE_URL}{WEBHOOK_PATH}",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        timeout=TIMEOUT,
    )


def manage(service: str, *args: str) -> str:
    """A manage.py command where `service` runs (staff's or cron's way in); its output."""
    assert MANAGE, "E2E_MANAGE: how to run manage.py for a service"
    argv = [part.format(service=service) for part in MANAGE]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def money_invariant(order_id: str) -> tuple[Decimal, Decimal]:
    """The money invariant over every order of the shop (check_money_invariant with each side's
    ledger from where its service runs, as docs/payments.md says), and this order's two sides:
    (orders' captured minus refunded, payments' charged minus refunded)."""
    services = ("orders", "payments")
    with ThreadPoolExecutor() as pool:
        ledgers = dict(zip(services, pool.map(lambda service: manage(service, f"{service}_money_ledger"), services)))
    with tempfile.TemporaryDirectory() as folder:
        files: list[str] = []
        for service, text in ledgers.items():
            (Path(folder) / service).write_text(text)
            files += [f"--{service}", str(Path(folder) / service)]
        checked = manage("payments", "check_money_invariant", *files)
    assert checked.strip().endswith(" 0 differ"), checked
    orders, payments = (json.loads(ledgers[service]).get(order_id, "0 -").split()[0] for service in ledgers)
    return Decimal(orders), Decimal(payments)
