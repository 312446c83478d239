"""Over the moto server with real workers: a revocation in users reaches every other service
(SNS -> SQS -> its worker), which then refuses the shopper's older access tokens; and a reset link
crosses from users to notifications sealed, opened only to write the email."""

from __future__ import annotations

import uuid

import pytest

from tests.messaging.stack import eventually

pytestmark = pytest.mark.messaging


def _users(stack, code: str) -> dict[str, str]:
    output = stack.shell("users", code)
    return dict(line.split(" ", 1) for line in output.splitlines() if line.startswith("OUT_"))


def test_signing_out_everywhere_revokes_the_shoppers_tokens_in_every_service(split_stack):
    email = f"cy-{uuid.uuid4().hex[:8]}@example.com"
    out = _users(
        split_stack,
        f"""
from apps.users.services.customers import customer_register
from apps.users.services.tokens import customer_sign_out_everywhere
from apps.users.tokens import access_token_issue
customer = customer_register(email={email!r}, password="a-long-Passphrase-7")
token = access_token_issue(customer_id=customer.id, email=customer.email)
customer_sign_out_everywhere(customer=customer)
print("OUT_ID", customer.id)
print("OUT_TOKEN", token.token)
""",
    )
    customer_id = uuid.UUID(out["OUT_ID"])

    for service in ("catalog", "notifications"):
        eventually(
            lambda service=service: (
                split_stack.query(
                    service, f"SELECT count(*) FROM {service}_tokenrevocation WHERE subject_id = %s", (customer_id,)
                )
                == [(1,)]
            ),
            message=f"revocation recorded in {service}",
        )
    verdict = split_stack.shell(
        "catalog",
        f"""
from apps.core.auth.revocation import token_is_revoked
from apps.core.auth.tokens import verify_access_token
user = verify_access_token({out["OUT_TOKEN"]!r})
print("REVOKED", token_is_revoked(service="catalog", subject_id=user.id, issued_at=user.issued_at))
""",
    )
    assert "REVOKED True" in verdict


def test_a_reset_link_travels_sealed_and_is_opened_only_to_write_the_email(split_stack):
    email = f"di-{uuid.uuid4().hex[:8]}@example.com"
    _users(
        split_stack,
        f"""
from apps.users.services.customers import customer_register
from apps.users.services.passwords import password_reset_request
customer_register(email={email!r}, password="a-long-Passphrase-7")
password_reset_request(email={email!r})
""",
    )
    # The request only queues the work (the same for any email): users' worker looks the account
    # up and publishes the event.
    [(event_id, payload)] = eventually(
        lambda: split_stack.query(
            "users",
            "SELECT id, payload::text FROM users_outboxevent"
            " WHERE event_type = 'user.password_reset_requested' AND payload->>'email' = %s",
            (email,),
        ),
        message="reset event published by users' worker",
    )
    assert "token=" not in payload

    def sent() -> list[tuple]:
        return split_stack.query(
            "notifications",
            "SELECT status, context::text FROM notifications_delivery WHERE event_id = %s",
            (event_id,),
        )

    [(_, context)] = eventually(lambda: [row for row in sent() if row[0] == "sent"], message="reset email sent")
    assert "token=" not in context
    # The development email backend writes the email to the worker's output: the link is there.
    log = (split_stack.log_dir / "worker-notifications.log").read_text()
    assert "/reset-password?token=" in log
