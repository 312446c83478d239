"""manage.py check_money_invariant after real checkouts (sandbox provider, one process): it holds
after captures, refunds and declines; a difference on either side names the order and fails; the
split shape's form (each service's ledger as a file) gives the same answer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.orders.models import Order
from apps.orders.services.refunds import order_refund_request
from apps.payments.models import Charge
from tests.orders.conftest import client_for, make_shopper
from tests.orders.test_full_saga import _checkout, live_catalog, seed  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _orders(live_catalog) -> list[Order]:  # noqa: F811 - the fixture
    seed("MONEY-MUG", price="12.50", stock=10)
    placed = []
    for number, token in enumerate(["tok_visa", "tok_visa", "tok_decline"]):
        client = client_for(make_shopper())
        client.post("/api/v1/orders/cart/lines/", {"sku": "MONEY-MUG", "quantity": 2}, format="json")
        placed.append(Order.objects.get(pk=_checkout(client, token, f"money-{number}").json()["id"]))
    order_refund_request(order=placed[0], lines={"MONEY-MUG": 1}, restock=False, actor="staff:alice")
    return placed


def test_the_invariant_holds_after_captures_refunds_and_declines(live_catalog, capsys):  # noqa: F811
    _orders(live_catalog)

    call_command("check_money_invariant")

    assert "money invariant: 2 orders, 0 differ"  # the decline took none in capsys.readouterr().out


def test_a_difference_names_the_order_and_fails(live_catalog, capsys):  # noqa: F811
    placed = _orders(live_catalog)
    Charge.objects.filter(intent__order_id=placed[1].id).update(amount_refunded=Decimal("1.00"))

    with pytest.raises(CommandError):
        call_command("check_money_invariant")

    assert f"order {placed[1].id}" in capsys.readouterr().err


def test_the_split_form_reads_each_services_ledger_from_a_file(live_catalog, tmp_path, capsys):  # noqa: F811
    _orders(live_catalog)
    for service in ("orders", "payments"):
        call_command(f"{service}_money_ledger")
        (tmp_path / f"{service}.json").write_text(capsys.readouterr().out)
    assert json.loads((tmp_path / "orders.json").read_text())

    call_command("check_money_invariant", orders=tmp_path / "orders.json", payments=tmp_path / "payments.json")

    assert "0 differ" in capsys.readouterr().out
