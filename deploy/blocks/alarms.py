"""The web tier's deployment alarms (rollback of a release) and the list the ECS service names."""

from __future__ import annotations

from typing import Any

from blocks.common import SERVICES, platform_import, ref, sub


def _target_group_metric(color: str, metric: str, stat: str) -> dict:
    return {
        "Metric": {
            "Namespace": "AWS/ApplicationELB",
            "MetricName": metric,
            "Dimensions": [
                {"Name": "LoadBalancer", "Value": platform_import("LoadBalancerFullName")},
                {"Name": "TargetGroup", "Value": {"Fn::GetAtt": [f"WebTargetGroup{color}", "TargetGroupFullName"]}},
            ],
        },
        "Period": 60,
        "Stat": stat,
    }


def deployment_alarms(variant: str = "ecs") -> dict:
    """5xx rate and p95 latency of each web target group: the ECS service's deployment alarms (ECS
    blue/green) or the stack update's rollback triggers (EC2 Auto Scaling variant) roll a release
    back when one fires."""
    conditional = {"Condition": "WebOnEcs"} if variant == "ecs" else {}
    alarms: dict[str, Any] = {}
    for color in ("Blue", "Green"):
        common = {
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [platform_import("AlertsTopicArn")],
        }
        alarms[f"Web5xx{color}Alarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            **conditional,
            "Properties": {
                "AlarmDescription": sub(f"5xx rate of ${{ServiceName}} web ({color.lower()} target group), percent"),
                "Metrics": [
                    {
                        "Id": "errors",
                        "ReturnData": False,
                        "MetricStat": _target_group_metric(color, "HTTPCode_Target_5XX_Count", "Sum"),
                    },
                    {
                        "Id": "requests",
                        "ReturnData": False,
                        "MetricStat": _target_group_metric(color, "RequestCount", "Sum"),
                    },
                    {
                        "Id": "rate",
                        "Label": "5xx percent",
                        "ReturnData": True,
                        "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                    },
                ],
                "Threshold": ref("Alarm5xxPercent"),
                **common,
            },
        }
        metric = _target_group_metric(color, "TargetResponseTime", "p95")
        alarms[f"WebLatency{color}Alarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            **conditional,
            "Properties": {
                "AlarmDescription": sub(f"p95 response time of ${{ServiceName}} web ({color.lower()} target group)"),
                "Namespace": "AWS/ApplicationELB",
                "MetricName": "TargetResponseTime",
                "Dimensions": metric["Metric"]["Dimensions"],
                "ExtendedStatistic": "p95",
                "Period": 60,
                "Threshold": ref("AlarmResponseTimeSeconds"),
                **common,
            },
        }
    # 502/503/504 the load balancer makes itself (a target closed the connection, none is healthy,
    # a target timed out): CloudWatch has them per load balancer only, so a release of any service
    # rolls back while they exceed the service's Alarm5xxPercent (a false rollback is the safe side).
    lb = {"Name": "LoadBalancer", "Value": platform_import("LoadBalancerFullName")}
    alarms["LoadBalancer5xxAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        **conditional,
        "Properties": {
            "AlarmDescription": sub("5xx made by the load balancer itself during ${ServiceName} releases, percent"),
            "Metrics": [
                {
                    "Id": "errors",
                    "ReturnData": False,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/ApplicationELB",
                            "MetricName": "HTTPCode_ELB_5XX_Count",
                            "Dimensions": [lb],
                        },
                        "Period": 60,
                        "Stat": "Sum",
                    },
                },
                {
                    "Id": "requests",
                    "ReturnData": False,
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Dimensions": [lb]},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                },
                {
                    "Id": "rate",
                    "Label": "load balancer 5xx percent",
                    "ReturnData": True,
                    "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                },
            ],
            "Threshold": ref("Alarm5xxPercent"),
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [platform_import("AlertsTopicArn")],
        },
    }
    return alarms


def web_rollback_alarm_names() -> list:
    """The alarms that roll a web deployment back (ECS service DeploymentConfiguration.Alarms):
    the application's 5xx rate and p95 latency on either target group, and the 5xx responses the
    load balancer makes itself (502/503/504 when tasks fail or none is healthy)."""
    return [ref(f"{kind}{color}Alarm") for color in ("Blue", "Green") for kind in ("Web5xx", "WebLatency")] + [
        ref("LoadBalancer5xxAlarm")
    ]


# --- the checkout saga's objectives (platform.yaml) ----------------------------------------------


def saga_alarms() -> dict:
    """Alarms on the checkout saga's objectives, to the alerts topic: the p99 time from checkout to
    confirmation, and the share of placed orders that get confirmed (metric math over orders'
    OrdersConfirmed / OrdersPlaced). The third objective, events leaving every outbox, is each
    service stack's OutboxStuckAlarm."""
    orders = [{"Name": "Service", "Value": sub("${ResourcePrefix}orders")}]
    notify = {"AlarmActions": [ref("AlertsTopic")], "OKActions": [ref("AlertsTopic")]}

    def count(metric: str, id_: str) -> dict:
        return {
            "Id": id_,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "ShopStack", "MetricName": metric, "Dimensions": orders},
                "Period": 900,
                "Stat": "Sum",
            },
        }

    return {
        "CheckoutConfirmationLatencyAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": sub(
                    "Checkout saga: p99 time from checkout to a confirmed order above"
                    " ${SagaConfirmationP99Seconds} s for 15 minutes"
                ),
                "Namespace": "ShopStack",
                "MetricName": "CheckoutToConfirmed",
                "Dimensions": orders,
                "ExtendedStatistic": "p99",
                "Period": 300,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 3,
                "Threshold": ref("SagaConfirmationP99Seconds"),
                "ComparisonOperator": "GreaterThanThreshold",
                # No checkouts, no latency to judge.
                "TreatMissingData": "notBreaching",
                **notify,
            },
        },
        "CheckoutConfirmationRatioAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": sub(
                    "Checkout saga: under ${SagaConfirmedPercent} percent of the orders placed were confirmed"
                    " in two successive 15-minute periods (with at least ${SagaMinimumOrders} orders each)"
                ),
                "Metrics": [
                    count("OrdersPlaced", "placed"),
                    count("OrdersConfirmed", "confirmed"),
                    {
                        "Id": "ratio",
                        "Label": "confirmed percent of placed",
                        "ReturnData": True,
                        # Too few orders to judge counts as healthy (100).
                        "Expression": sub(
                            "IF(FILL(placed, 0) >= ${SagaMinimumOrders}, 100 * FILL(confirmed, 0) / placed, 100)"
                        ),
                    },
                ],
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": ref("SagaConfirmedPercent"),
                "ComparisonOperator": "LessThanThreshold",
                "TreatMissingData": "notBreaching",
                **notify,
            },
        },
    }


# --- the outbox (service.yaml) --------------------------------------------------------------------

_OUTBOX_ALARM = {
    # An event waiting 5 minutes: SNS unreachable, or the relay fails on a row.
    "Threshold": 300,
    "ComparisonOperator": "GreaterThanThreshold",
    # No data at all means no sweep runs (scheduler down or stuck), which strands events just the same.
    "TreatMissingData": "breaching",
    "EvaluationPeriods": 5,
    "DatapointsToAlarm": 5,
}


def outbox_alarms() -> dict:
    """The scheduler's outbox sweep (every 5 s) reports the age of the oldest event not yet sent
    (apps/core/tasks.py, an embedded-metric log line, dimension Service = prefix + service). One
    alarm per service stack on its own; the all-in-one stack's sweep reports every service, and its
    alarm watches the oldest of the five."""
    notify = {
        "AlarmActions": [platform_import("AlertsTopicArn")],
        "OKActions": [platform_import("AlertsTopicArn")],
    }

    def metric(service: str) -> dict:
        return {
            "Namespace": "ShopStack",
            "MetricName": "OutboxOldestUnsentAge",
            "Dimensions": [{"Name": "Service", "Value": sub(f"${{ResourcePrefix}}{service}")}],
        }

    return {
        "OutboxStuckAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "Split",
            "Properties": {
                "AlarmDescription": sub(
                    "Events of ${ServiceName} have waited over 5 minutes in its outbox, or no outbox sweep reports"
                ),
                **metric("${ServiceName}"),
                "Statistic": "Maximum",
                "Period": 60,
                **_OUTBOX_ALARM,
                **notify,
            },
        },
        "AllInOneOutboxStuckAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Condition": "AllInOne",
            "Properties": {
                "AlarmDescription": "Events of a service of the all-in-one task have waited over 5 minutes in its"
                " outbox, or no outbox sweep reports",
                "Metrics": [
                    *(
                        {
                            "Id": f"age_{name}",
                            "ReturnData": False,
                            "MetricStat": {"Metric": metric(name), "Period": 60, "Stat": "Maximum"},
                        }
                        for name in SERVICES
                    ),
                    {
                        "Id": "oldest",
                        "Label": "oldest unsent event of any service (s)",
                        "ReturnData": True,
                        "Expression": f"MAX([{', '.join(f'age_{name}' for name in SERVICES)}])",
                    },
                ],
                **_OUTBOX_ALARM,
                **notify,
            },
        },
    }
