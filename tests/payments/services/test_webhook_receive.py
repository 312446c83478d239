"""webhook_receive calls an event a replay only when that event was received before: any other
refusal by the database is a failure to see, not a 409 for an event never seen."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from apps.payments.errors import WebhookReplayed
from apps.payments.models import WebhookEvent
from apps.payments.services import provider_webhooks

pytestmark = pytest.mark.django_db(databases="__all__")


def test_an_event_received_before_is_a_replay():
    provider_webhooks.webhook_receive(provider="sandbox", event_id="evt_1", event_type="ping", data={}, payload={})

    with pytest.raises(WebhookReplayed):
        provider_webhooks.webhook_receive(provider="sandbox", event_id="evt_1", event_type="ping", data={}, payload={})


def test_another_integrity_error_is_not_taken_for_a_replay():
    with pytest.raises(IntegrityError):  # event_type is NOT NULL
        provider_webhooks.webhook_receive(provider="sandbox", event_id="evt_2", event_type=None, data={}, payload={})

    assert not WebhookEvent.objects.exists()
