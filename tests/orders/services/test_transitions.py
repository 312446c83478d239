"""The state machine: legal transitions are recorded in the history, illegal ones are 409 and
change nothing."""

from __future__ import annotations

import pytest

from apps.orders.errors import IllegalTransition
from apps.orders.models import OrderStatus, OrderStatusChange
from apps.orders.services.transitions import ALLOWED_TRANSITIONS, order_transition

pytestmark = pytest.mark.django_db(databases="__all__")


def test_a_legal_transition_is_recorded(place_order, shopper):
    order = place_order(shopper)

    order_transition(order=order, to=OrderStatus.STOCK_RESERVED, reason="test", actor="staff:alice")

    order.refresh_from_db()
    assert order.status == OrderStatus.STOCK_RESERVED
    last = order.status_changes.last()
    assert (last.from_status, last.to_status, last.reason, last.actor) == (
        "pending",
        "stock_reserved",
        "test",
        "staff:alice",
    )


@pytest.mark.parametrize(
    "target", [OrderStatus.SHIPPED, OrderStatus.CONFIRMED, OrderStatus.REFUNDED, OrderStatus.DELIVERED]
)
def test_an_illegal_transition_is_a_conflict_and_changes_nothing(place_order, shopper, target):
    order = place_order(shopper)
    history_before = OrderStatusChange.objects.filter(order=order).count()
    changed_at = order.status_changed_at

    with pytest.raises(IllegalTransition) as error:
        order_transition(order=order, to=target, reason="test", actor="staff:alice")

    assert error.value.status_code == 409
    assert error.value.get_codes() == "illegal_transition"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.status_changed_at == changed_at
    assert OrderStatusChange.objects.filter(order=order).count() == history_before


def test_the_check_reads_the_status_under_the_lock_not_the_stale_instance(place_order, shopper):
    # Given an instance that still says "pending" while the row has moved on
    order = place_order(shopper)
    stale = type(order).objects.get(pk=order.pk)
    order_transition(order=order, to=OrderStatus.CANCELLED, reason="test", actor="system")

    # When the stale copy tries a transition that was legal from "pending"
    with pytest.raises(IllegalTransition):
        order_transition(order=stale, to=OrderStatus.STOCK_RESERVED, reason="late", actor="system")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_terminal_states_go_nowhere():
    assert ALLOWED_TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert ALLOWED_TRANSITIONS[OrderStatus.REFUNDED] == frozenset()
    assert OrderStatus.CANCELLED not in ALLOWED_TRANSITIONS[OrderStatus.SHIPPED]
    assert set(ALLOWED_TRANSITIONS) == set(OrderStatus.values)
