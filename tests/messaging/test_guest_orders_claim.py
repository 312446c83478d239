"""Over the moto server with real workers: a guest order placed with an email joins the account
registered with that email only once the account proves the address. Registration publishes the
verification link (users -> notifications, sealed); the link's confirmation publishes
user.email_verified, which orders' worker turns into the claim."""

from __future__ import annotations

import uuid

import pytest

from tests.messaging.stack import eventually

pytestmark = pytest.mark.messaging


@pytest.fixture(scope="module")
def orders_worker(split_stack):
    """Orders' database and worker, for this module only (the other messaging tests need neither)."""
    split_stack.create_database("orders")
    split_stack.start_worker("orders")
    yield split_stack
    split_stack.stop_worker("orders")
    split_stack.drop_database("orders")


def _guest_order(stack, email: str) -> uuid.UUID:
    output = stack.shell(
        "orders",
        f"""
from tests.orders.factories import order
print("ORDER", order(customer_id=None, email={email!r}).id)
""",
    )
    return uuid.UUID(output.split("ORDER ", 1)[1].split()[0])


def _order_owner(stack, order_id: uuid.UUID) -> list[tuple]:
    return stack.query("orders", "SELECT customer_id FROM orders_order WHERE id = %s", (order_id,))


def test_a_guest_order_joins_the_account_once_its_email_is_verified(orders_worker):
    stack = orders_worker
    email = f"gus-{uuid.uuid4().hex[:8]}@example.com"
    order_id = _guest_order(stack, email)

    output = stack.shell(
        "users",
        f"""
from apps.users.services.customers import customer_register
print("CUSTOMER", customer_register(email={email!r}, password="a-long-Passphrase-7").id)
""",
    )
    customer_id = uuid.UUID(output.split("CUSTOMER ", 1)[1].split()[0])
    # The verification email went out (the events flowed), and registering alone claimed nothing.
    eventually(
        lambda: (
            stack.query(
                "notifications",
                "SELECT status FROM notifications_delivery WHERE template = 'email_verification' AND recipient = %s",
                (email,),
            )
            == [("sent",)]
        ),
        message="verification email sent",
    )
    assert _order_owner(stack, order_id) == [(None,)]

    stack.shell(
        "users",
        f"""
from urllib.parse import parse_qs, urlsplit
from apps.core.sealing import unseal
from apps.users.models import OutboxEvent
from apps.users.services.emails import email_verification_confirm
row = OutboxEvent.objects.get(event_type="user.email_verification_requested", payload__email={email!r})
token = parse_qs(urlsplit(unseal(row.payload["sealed_verify_url"])).query)["token"][0]
email_verification_confirm(token=token)
""",
    )

    eventually(lambda: _order_owner(stack, order_id) == [(customer_id,)], message="guest order claimed")
    log = (stack.log_dir / "worker-orders.log").read_text()
    assert "1 guest orders claimed" in log
