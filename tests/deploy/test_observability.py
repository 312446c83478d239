"""Dashboards and alarms (#17): a dashboard per service and one for the checkout saga that read the
metrics the application emits (namespace ShopStack, dimension Service=<prefix><service>), and
alarms on the saga's objectives wired to the alerts topic."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from config.services import SERVICES
from tests.deploy.templates import resolve, service_parameters

# What the application emits in CloudWatch embedded metric format: metric -> the dimension sets it
# is written with (the app side's list; a dashboard or alarm naming anything else shows nothing).
APP_METRICS: dict[str, set[tuple[str, ...]]] = {
    "OrdersPlaced": {("Service",)},
    "OrdersConfirmed": {("Service",)},
    "OrdersCancelled": {("Service",), ("Service", "Reason")},
    "CheckoutToReserved": {("Service",)},
    "CheckoutToPaid": {("Service",)},
    "CheckoutToConfirmed": {("Service",)},
    "OutboxOldestUnsentAge": {("Service",)},
    "OutboxRelayed": {("Service",)},
    "DuplicateDeliveriesSkipped": {("Service",)},
    "HandlerFailures": {("Service",), ("Service", "EventType")},
    "DeadLettered": {("Service",)},
    "PaymentProviderLatency": {("Service", "Operation")},
    "PaymentProviderErrors": {("Service", "Operation")},
}
_SEARCH = re.compile(r"SEARCH\('\{ShopStack,(?P<dimensions>[^}]+)\} MetricName=\"(?P<metric>\w+)\"")


def _body(template: dict, resource: str, parameters: dict[str, Any]) -> dict:
    body = resolve(template["Resources"][resource]["Properties"]["DashboardBody"], template, parameters)
    text = body["Fn::Sub"][0] if isinstance(body["Fn::Sub"], list) else body["Fn::Sub"]
    return json.loads(text)


def _app_metrics(dashboard: dict) -> list[tuple[str, tuple[str, ...], str]]:
    """(metric, dimension names, service value) of every ShopStack series a dashboard shows."""
    found = []
    for widget in dashboard["widgets"]:
        previous: list = []
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):
                match = _SEARCH.search(row[0].get("expression", ""))
                if match:
                    service = re.search(r'Service=\\?"([^"\\]+)', row[0]["expression"])[1]
                    found.append((match["metric"], tuple(match["dimensions"].split(",")), service))
                continue
            # CloudWatch's shorthand: "." repeats the item above.
            row = [previous[i] if item == "." and i < len(previous) else item for i, item in enumerate(row)]
            previous = row
            if row[0] != "ShopStack":
                continue
            pairs = [item for item in row[2:] if not isinstance(item, dict)]
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            found.append((row[1], tuple(dimensions), dimensions["Service"]))
    return found


def unknown_metric_problems(dashboard: dict, service: str) -> list[str]:
    return [
        f"{metric} {dimensions} of {value}"
        for metric, dimensions, value in _app_metrics(dashboard)
        if dimensions not in APP_METRICS.get(metric, set()) or value != service
    ]


@pytest.mark.parametrize("name", list(SERVICES))
def test_each_service_has_a_dashboard_of_its_own_metrics(service, name):
    dashboard = _body(service, "ServiceDashboard", service_parameters(name))
    service_value = "${ResourcePrefix}${ServiceName}"
    assert unknown_metric_problems(dashboard, service_value) == []
    shown = {metric for metric, _, _ in _app_metrics(dashboard)}
    assert {"HandlerFailures", "DuplicateDeliveriesSkipped", "DeadLettered", "OutboxOldestUnsentAge"} <= shown
    assert ("OrdersPlaced" in shown) == (name == "orders")
    assert ("PaymentProviderLatency" in shown) == (name == "payments")
    assert service["Resources"]["ServiceDashboard"]["Properties"]["DashboardName"] == {
        "Fn::Sub": "${ResourcePrefix}shopstack-${ServiceName}"
    }


def test_the_dashboard_check_sees_a_metric_the_app_does_not_emit(service):
    dashboard = copy.deepcopy(_body(service, "ServiceDashboard", service_parameters("orders")))
    dashboard["widgets"][0]["properties"]["metrics"].append(
        ["ShopStack", "OrdersShipped", "Service", "${ResourcePrefix}${ServiceName}"]
    )
    assert unknown_metric_problems(dashboard, "${ResourcePrefix}${ServiceName}") == [
        "OrdersShipped ('Service',) of ${ResourcePrefix}${ServiceName}"
    ]


def test_the_saga_dashboard_follows_an_order_across_the_services(platform):
    dashboard = _body(platform, "SagaDashboard", {})
    metrics = _app_metrics(dashboard)
    for metric, dimensions, value in metrics:
        assert dimensions in APP_METRICS[metric], (metric, dimensions)
        assert value in {f"${{ResourcePrefix}}{name}" for name in SERVICES}, value
    by_service = {(metric, value) for metric, _, value in metrics}
    assert ("CheckoutToConfirmed", "${ResourcePrefix}orders") in by_service
    assert ("PaymentProviderLatency", "${ResourcePrefix}payments") in by_service
    for name in SERVICES:
        assert ("HandlerFailures", f"${{ResourcePrefix}}{name}") in by_service
        assert ("OutboxOldestUnsentAge", f"${{ResourcePrefix}}{name}") in by_service


def test_the_saga_latency_objective_alarms_to_the_alerts_topic(platform):
    alarm = platform["Resources"]["CheckoutConfirmationLatencyAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ExtendedStatistic"]) == (
        "ShopStack",
        "CheckoutToConfirmed",
        "p99",
    )
    assert alarm["Dimensions"] == [{"Name": "Service", "Value": {"Fn::Sub": "${ResourcePrefix}orders"}}]
    assert alarm["Threshold"] == {"Ref": "SagaConfirmationP99Seconds"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def _ratio(alarm: dict, placed: float, confirmed: float, minimum: int = 10) -> float:
    """The alarm's metric math evaluated (IF, FILL and arithmetic, as CloudWatch does)."""
    (expression,) = [query["Expression"] for query in alarm["Metrics"] if query.get("ReturnData")]
    text = expression["Fn::Sub"].replace("${SagaMinimumOrders}", str(minimum))
    match = re.fullmatch(r"IF\(FILL\(placed, 0\) >= (\d+), 100 \* FILL\(confirmed, 0\) / placed, 100\)", text)
    assert match, text
    return 100 * confirmed / placed if placed >= int(match[1]) else 100


def test_the_saga_confirmation_ratio_is_metric_math_over_orders_counts(platform):
    alarm = platform["Resources"]["CheckoutConfirmationRatioAlarm"]["Properties"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    for query_id, metric in (("placed", "OrdersPlaced"), ("confirmed", "OrdersConfirmed")):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"]["MetricName"] == metric and stat["Stat"] == "Sum"
        assert stat["Metric"]["Dimensions"] == [{"Name": "Service", "Value": {"Fn::Sub": "${ResourcePrefix}orders"}}]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == {"Ref": "SagaConfirmedPercent"}
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    threshold = platform["Parameters"]["SagaConfirmedPercent"]["Default"]
    assert _ratio(alarm, placed=40, confirmed=20) < threshold  # half the orders confirmed: alarm
    assert _ratio(alarm, placed=40, confirmed=38) >= threshold
    assert _ratio(alarm, placed=3, confirmed=0) >= threshold  # too few orders to judge


def test_every_service_alarms_on_its_outbox_age(service):
    alarm = service["Resources"]["OutboxStuckAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("ShopStack", "OutboxOldestUnsentAge")
    assert alarm["Dimensions"] == [{"Name": "Service", "Value": {"Fn::Sub": "${ResourcePrefix}${ServiceName}"}}]
    assert alarm["AlarmActions"] == [{"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-AlertsTopicArn"}}]
