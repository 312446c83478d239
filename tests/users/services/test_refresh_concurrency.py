"""Two refreshes of one refresh token at the same moment (two tabs, a retried request): both get
the same new pair, and the session survives; neither is taken for a stolen token's reuse."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from apps.users.models import RefreshToken
from apps.users.services import tokens
from tests.users import factories

# Real transactions: the second refresh waits on the first one's row lock.
pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_parallel_refreshes_of_one_token_get_the_same_pair(customer):
    # Given a signed-in shopper and two requests about to refresh the same token
    signed_in = tokens.customer_login(email=customer.email, password=factories.PASSWORD)
    start = threading.Barrier(2)
    answers: list[object] = []

    def refresh() -> None:
        try:
            start.wait()
            answers.append(tokens.token_refresh(refresh_token=signed_in.refresh_token))
        except Exception as error:  # the assertion below shows what was raised
            answers.append(error)
        finally:
            connections.close_all()

    # When both run at once
    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # Then both got the same pair, which works, and nothing was revoked as reuse
    first, second = answers
    assert first == second, answers
    assert tokens.token_refresh(refresh_token=first.refresh_token).refresh_token
    assert not RefreshToken.objects.filter(revoke_reason=RefreshToken.RevokeReason.REUSE).exists()
