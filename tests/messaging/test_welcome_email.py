"""Issue acceptance over the moto server with real workers: a registration in users produces
exactly one welcome email in the notifications log, also when its event is delivered twice, and
also when SNS was unreachable at commit time."""

from __future__ import annotations

import uuid

import pytest

from tests.messaging.stack import eventually, free_port

pytestmark = pytest.mark.messaging


def _register(stack, email: str, **env: str) -> str:
    output = stack.shell(
        "users",
        f"""
from apps.users.services.customers import customer_register
from apps.users.models import OutboxEvent
customer = customer_register(email={email!r}, password="a-long-Passphrase-7", first_name="Ada")
print("EVENT", OutboxEvent.objects.get(event_type="user.registered", payload__email={email!r}).id)
""",
        **env,
    )
    return output.split("EVENT ", 1)[1].split()[0]


def _welcome_emails(stack, email: str) -> list[tuple]:
    return stack.query(
        "notifications",
        "SELECT status, event_id FROM notifications_delivery "
        "WHERE template = 'welcome' AND channel = 'email' AND recipient = %s",
        (email,),
    )


def test_registration_sends_one_welcome_email_even_when_its_event_is_delivered_twice(split_stack):
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    event_id = _register(split_stack, email)
    eventually(lambda: _welcome_emails(split_stack, email) == [("sent", uuid.UUID(event_id))], message="welcome sent")

    split_stack.manage("users", "replay_events", "--type", "user.registered")
    log = split_stack.log_dir / "worker-notifications.log"
    eventually(lambda: f"duplicate user.registered {event_id}" in log.read_text(), message="duplicate delivery seen")
    assert _welcome_emails(split_stack, email) == [("sent", uuid.UUID(event_id))]


def test_registration_succeeds_while_sns_is_down_and_the_email_follows(split_stack):
    email = f"bea-{uuid.uuid4().hex[:8]}@example.com"
    _register(split_stack, email, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    assert split_stack.query("users", "SELECT count(*) FROM users_customer WHERE email = %s", (email,)) == [(1,)]
    assert _welcome_emails(split_stack, email) == []

    split_stack.manage("users", "relay_outbox")
    eventually(lambda: [row[0] for row in _welcome_emails(split_stack, email)] == ["sent"], message="welcome sent")
