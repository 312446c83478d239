"""The outbox sweep reports the age of the oldest unsent event as a CloudWatch embedded metric, so
an alarm sees events stuck in the outbox (#16, 6)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.tasks import outbox_age_report
from apps.users.models import OutboxEvent as UsersOutbox

pytestmark = pytest.mark.django_db(databases="__all__")


def _metric_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def _unsent(age_seconds: int) -> None:
    UsersOutbox.objects.create(
        id=uuid.uuid4(),
        event_type="staff.changed",
        payload={},
        trace_id="t",
        occurred_at=timezone.now() - timedelta(seconds=age_seconds),
    )


def test_the_oldest_unsent_event_age_is_an_embedded_metric(settings, capsys):
    settings.METRICS_EMBEDDED = True
    settings.AWS_RESOURCE_PREFIX = "staging-"
    # Given two unsent events, the older 10 minutes old, and a sent one older still
    _unsent(600)
    _unsent(30)
    UsersOutbox.objects.create(
        event_type="staff.changed",
        payload={},
        trace_id="t",
        occurred_at=timezone.now() - timedelta(hours=1),
        sent_at=timezone.now(),
    )

    outbox_age_report(service="users")

    [record] = _metric_lines(capsys.readouterr().out)
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive == {
        "Namespace": "ShopStack",
        "Dimensions": [["Service"]],
        "Metrics": [{"Name": "OutboxOldestUnsentAge", "Unit": "Seconds"}],
    }
    assert record["Service"] == "staging-users"
    assert 600 <= record["OutboxOldestUnsentAge"] < 660
    assert isinstance(record["_aws"]["Timestamp"], int)


def test_an_empty_outbox_reports_zero(settings, capsys):
    settings.METRICS_EMBEDDED = True
    outbox_age_report(service="users")
    [record] = _metric_lines(capsys.readouterr().out)
    assert record["OutboxOldestUnsentAge"] == 0


def test_no_metric_lines_unless_enabled(settings, capsys):
    settings.METRICS_EMBEDDED = False
    _unsent(600)
    outbox_age_report(service="users")
    assert _metric_lines(capsys.readouterr().out) == []
