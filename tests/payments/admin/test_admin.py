"""The payments admin is read-only: staff see payments with their charge and refund history,
and received webhooks, but cannot add, change or delete them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.payments.models import Refund, WebhookEvent
from tests.payments import factories

pytestmark = pytest.mark.django_db(databases="__all__")


def test_staff_read_a_payment_with_its_refund_history(admin_client):
    intent = factories.captured_payment()
    Refund.objects.create(
        refund_id="refund-abc", intent=intent, charge=intent.charge, amount=Decimal("3.00"), currency="EUR"
    )

    changelist = admin_client.get(reverse("admin:payments_paymentintent_changelist"))
    change = admin_client.get(reverse("admin:payments_paymentintent_change", args=[intent.pk]))

    assert changelist.status_code == 200
    assert intent.order_number in changelist.content.decode()
    assert change.status_code == 200
    page = change.content.decode()
    assert "refund-abc" in page and intent.provider_charge_id in page
    assert 'name="_save"' not in page  # nothing to save: read-only


def test_payments_cannot_be_added_changed_or_deleted(admin_client):
    intent = factories.captured_payment()

    assert admin_client.get(reverse("admin:payments_paymentintent_add")).status_code == 403
    assert admin_client.post(reverse("admin:payments_paymentintent_change", args=[intent.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:payments_paymentintent_delete", args=[intent.pk])).status_code == 403


def test_staff_read_received_webhooks(admin_client):
    event = WebhookEvent.objects.create(
        provider="sandbox", event_id="evt_admin", event_type="charge.refunded", payload={}, outcome="refund_recorded"
    )

    assert admin_client.get(reverse("admin:payments_webhookevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:payments_webhookevent_change", args=[event.pk])).status_code == 200
    assert admin_client.get(reverse("admin:payments_webhookevent_add")).status_code == 403
