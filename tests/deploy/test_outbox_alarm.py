"""The outbox age the sweep reports (apps/core/tasks.py) has an alarm on exactly that metric (#16, 6)."""

from __future__ import annotations

from apps.core.metrics import NAMESPACE
from tests.deploy.templates import load


def test_the_outbox_alarm_watches_the_metric_the_sweep_emits():
    service = load("service")
    alarm = service["Resources"]["OutboxStuckAlarm"]["Properties"]
    assert alarm["Namespace"] == NAMESPACE
    assert alarm["MetricName"] == "OutboxOldestUnsentAge"
    # apps/core/tasks.py: dimension Service = AWS_RESOURCE_PREFIX + service, which the tasks get
    # as ResourcePrefix and ServiceName.
    assert alarm["Dimensions"] == [{"Name": "Service", "Value": {"Fn::Sub": "${ResourcePrefix}${ServiceName}"}}]
    assert alarm["Threshold"] == 300 and alarm["TreatMissingData"] == "breaching"
    container = service["Resources"]["SchedulerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    env = {item["Name"]: item["Value"] for item in container["Environment"] if "Name" in item}
    assert env["METRICS_EMBEDDED"] == "true"
    assert env["AWS_RESOURCE_PREFIX"] == {"Ref": "ResourcePrefix"}
    assert env["SERVICE"] == {"Ref": "ServiceName"}
