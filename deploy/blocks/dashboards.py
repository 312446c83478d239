"""CloudWatch dashboards: the platform's (load balancer and queues), each service's (service.yaml)
and the checkout saga's (platform.yaml), from the AWS metrics and the application's own."""

from __future__ import annotations

import json
from typing import Any

from blocks.common import SERVICES, platform_import, ref, sub


def dashboard() -> dict:
    lb = "${LoadBalancer.LoadBalancerFullName}"
    widgets: list[dict] = [
        {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": "API requests and errors",
                "region": "${AWS::Region}",
                "stat": "Sum",
                "period": 60,
                "metrics": [
                    ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb],
                    [".", "HTTPCode_Target_5XX_Count", ".", "."],
                    [".", "HTTPCode_Target_4XX_Count", ".", "."],
                ],
            },
        },
        {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": "API response time p95 (s)",
                "region": "${AWS::Region}",
                "stat": "p95",
                "period": 60,
                "metrics": [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb]],
            },
        },
        {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": "Queue backlog (visible messages)",
                "region": "${AWS::Region}",
                "stat": "Maximum",
                "period": 60,
                "metrics": [
                    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${ResourcePrefix}" + service.queue]
                    for service in SERVICES.values()
                ],
            },
        },
        {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": "Dead-letter queues (should stay at 0)",
                "region": "${AWS::Region}",
                "stat": "Maximum",
                "period": 300,
                "metrics": [
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        "${ResourcePrefix}" + service.dead_letter_queue,
                    ]
                    for service in SERVICES.values()
                ],
            },
        },
    ]
    return {"DashboardBody": sub(json.dumps({"widgets": widgets}, indent=1))}


# --- the application's own metrics (CloudWatch embedded metric format in the services' logs) -----

# The namespace the app writes its metrics under; every metric has the dimension Service, the
# service's name with the stack's ResourcePrefix (so two environments in one account stay apart).
NAMESPACE = "ShopStack"
SERVICE_DIMENSION = "${ResourcePrefix}${ServiceName}"


def _widget(title: str, metrics: list, stat: str = "Sum", period: int = 300, width: int = 12) -> dict:
    return {
        "type": "metric",
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": period,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def _app(metric: str, service: str, **options: str) -> list:
    """An application metric of one service ([Service] dimension)."""
    return [NAMESPACE, metric, "Service", service, *([options] if options else [])]


def _search(metric: str, service: str, by: str, stat: str) -> list:
    """Every series of `metric` split by the dimension `by` (EventType, Reason, Operation): their
    values are only known at run time, so a SEARCH expression finds them."""
    expression = f"SEARCH('{{{NAMESPACE},Service,{by}}} MetricName=\"{metric}\" Service=\"{service}\"', '{stat}', 300)"
    return [{"expression": expression, "id": f"{metric.lower()}_by_{by.lower()}"}]


def _orders_widgets(service: str) -> list[dict]:
    """The checkout saga as orders (its orchestrator) sees it."""
    return [
        _widget(
            "Orders placed, confirmed, cancelled",
            [
                _app("OrdersPlaced", service),
                _app("OrdersConfirmed", service),
                _app("OrdersCancelled", service),
            ],
        ),
        _widget("Orders cancelled by reason", [_search("OrdersCancelled", service, "Reason", "Sum")]),
        _widget(
            "Checkout to reserved, paid, confirmed: p50 and p99 (s)",
            [
                _app(metric, service, stat=stat, label=f"{metric} {stat}")
                for metric in ("CheckoutToReserved", "CheckoutToPaid", "CheckoutToConfirmed")
                for stat in ("p50", "p99")
            ],
            stat="p99",
        ),
        _widget(
            "Confirmation ratio (percent of orders placed)",
            [
                _app("OrdersPlaced", service, id="placed", visible=False),
                _app("OrdersConfirmed", service, id="confirmed", visible=False),
                [{"expression": "IF(placed > 0, 100 * FILL(confirmed, 0) / placed, 100)", "label": "confirmed %"}],
            ],
        ),
    ]


def _payments_widgets(service: str) -> list[dict]:
    return [
        _widget(
            "Payment provider latency p95 by operation (ms)",
            [_search("PaymentProviderLatency", service, "Operation", "p95")],
            stat="p95",
        ),
        _widget(
            "Payment provider errors by operation", [_search("PaymentProviderErrors", service, "Operation", "Sum")]
        ),
    ]


# Widgets only one service's dashboard has, after the common ones (by the metrics it emits).
SERVICE_WIDGETS = {"orders": _orders_widgets, "payments": _payments_widgets}


def _service_widgets(name: str) -> list[dict]:
    service = SERVICE_DIMENSION
    ecs = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", "${Cluster}", "ServiceName", f"${{ServiceName}}-{tier}"]
        for tier in ("web", "worker", "scheduler")
    ]
    common = [
        _widget("Tasks: CPU percent (web, worker, scheduler)", ecs, stat="Average", period=60),
        _widget(
            "Queue: waiting messages, oldest (s), dead letters",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${Queue.QueueName}"],
                [".", "ApproximateAgeOfOldestMessage", ".", "."],
                [".", "ApproximateNumberOfMessagesVisible", ".", "${DeadLetterQueue.QueueName}", {"label": "DLQ"}],
            ],
            stat="Maximum",
            period=60,
        ),
        _widget(
            "Events handled: failures, duplicates skipped, dead-lettered",
            [
                _app("HandlerFailures", service),
                _app("DuplicateDeliveriesSkipped", service),
                _app("DeadLettered", service),
            ],
        ),
        _widget("Handler failures by event type", [_search("HandlerFailures", service, "EventType", "Sum")]),
        _widget(
            "Outbox: oldest unsent event (s, max) and events relayed",
            [
                _app("OutboxOldestUnsentAge", service, stat="Maximum"),
                _app("OutboxRelayed", service, stat="Sum", yAxis="right"),
            ],
            period=60,
        ),
        _widget(
            "Database: CPU percent, connections",
            [
                ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", "${Database}"],
                [".", "DatabaseConnections", ".", ".", {"yAxis": "right"}],
            ],
            stat="Average",
            period=60,
        ),
    ]
    extra = SERVICE_WIDGETS.get(name)
    return common + (extra(service) if extra else [])


def service_dashboard() -> dict:
    """service.yaml's dashboard: the service's tasks, queue, events, outbox and database, and the
    metrics only it emits (orders: the saga; payments: the provider). One body per service, chosen
    by the stack's ServiceName."""
    variables = {
        "Cluster": platform_import("ClusterName"),
        # The service's own instance, or the shared one it lives on (DatabaseStackName).
        "Database": {
            "Fn::If": [
                "SharedDatabase",
                {"Fn::ImportValue": sub("${DatabaseStackName}-DatabaseInstanceId")},
                ref("Database"),
            ]
        },
    }
    bodies = {name: sub(json.dumps({"widgets": _service_widgets(name)}, indent=1), variables) for name in SERVICES}
    *first, last = SERVICES
    body: Any = bodies[last]
    for name in reversed(first):
        body = {"Fn::If": [f"Is{name.capitalize()}", bodies[name], body]}
    # The all-in-one stack first: its Is<Service> conditions all hold.
    all_in_one = sub(json.dumps({"widgets": _all_in_one_widgets()}, indent=1), variables)
    return {"DashboardBody": {"Fn::If": ["AllInOne", all_in_one, body]}}


def _all_in_one_widgets() -> list[dict]:
    """The all-in-one stack's dashboard: its one web service's tasks, every service's events and
    outbox (the process reports each under its own Service), its database, the saga and the
    provider. No queue: events and tasks run in the process."""
    everyone = [f"${{ResourcePrefix}}{name}" for name in SERVICES]
    return [
        _widget(
            "Tasks: CPU and memory percent (web and scheduler in one task)",
            [
                ["AWS/ECS", "CPUUtilization", "ClusterName", "${Cluster}", "ServiceName", "${ServiceName}-web"],
                [".", "MemoryUtilization", ".", ".", ".", "."],
            ],
            stat="Average",
            period=60,
        ),
        _widget("Handler failures by service", [_app("HandlerFailures", service) for service in everyone]),
        _widget(
            "Outbox: oldest unsent event by service (s)",
            [_app("OutboxOldestUnsentAge", service) for service in everyone],
            stat="Maximum",
            period=60,
        ),
        _widget(
            "Database: CPU percent, connections",
            [
                ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", "${Database}"],
                [".", "DatabaseConnections", ".", ".", {"yAxis": "right"}],
            ],
            stat="Average",
            period=60,
        ),
        *_orders_widgets("${ResourcePrefix}orders"),
        *_payments_widgets("${ResourcePrefix}payments"),
    ]


def saga_dashboard() -> dict:
    """platform.yaml's dashboard of the checkout saga across the services: orders' view of it,
    each hop's handler failures and dead letters, payments' provider, every outbox."""
    orders = "${ResourcePrefix}orders"
    everyone = [f"${{ResourcePrefix}}{name}" for name in SERVICES]
    widgets = [
        *_orders_widgets(orders),
        *_payments_widgets("${ResourcePrefix}payments"),
        _widget("Handler failures by service", [_app("HandlerFailures", service) for service in everyone]),
        _widget("Dead-lettered events by service", [_app("DeadLettered", service) for service in everyone]),
        _widget(
            "Outbox: oldest unsent event by service (s)",
            [_app("OutboxOldestUnsentAge", service) for service in everyone],
            stat="Maximum",
            period=60,
        ),
    ]
    return {"DashboardBody": sub(json.dumps({"widgets": widgets}, indent=1))}
