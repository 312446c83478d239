"""platform.yaml's CloudWatch dashboard."""

from __future__ import annotations

import json

from blocks.common import SERVICES, sub


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
