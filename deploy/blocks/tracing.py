"""Traces: the AWS Distro for OpenTelemetry (ADOT) collector beside the app (a sidecar container in
every ECS web, worker and scheduler task; a container on the host network of each EC2 web
instance), its configuration (rendered once for both), and the app's OpenTelemetry environment.

The app exports OTLP over HTTP to the collector on the task's loopback (127.0.0.1:4318; gRPC on
4317 is open too); the collector batches the spans and sends them to X-Ray with the task role's
credentials (xray:PutTraceSegments). Sampling happens twice:

- in the app, the OpenTelemetry SDK's parent-based ratio (TraceSampleRatio, per environment): a
  trace is recorded or not at its first service, and every later hop follows the `sampled` flag of
  its traceparent, so one checkout's spans are kept or dropped together across the five services;
- in the collector, tail sampling over the spans the app recorded: every trace with an error span
  and every one slower than SlowTraceMs is kept, the rest at TraceKeepPercent. Errors and slow
  sagas are kept only among recorded traces (a span the SDK did not record never reaches a
  collector), and each collector sees only its own task's spans, so this thins volume per task; to
  keep every error, record everything (TraceSampleRatio 1.0) and let TraceKeepPercent thin the rest.
"""

from __future__ import annotations

from typing import Any

import yaml
from blocks.common import ref, sub

COLLECTOR_NAME = "otel-collector"
OTLP_HTTP_ENDPOINT = "http://127.0.0.1:4318"
# ECS restarts a non-essential container that exits (RestartPolicy) after it ran this long.
COLLECTOR_RESTART_PERIOD_SECONDS = 60
# The collector's hard memory limit in a task, and the memory limiter's limits below it: past the
# limit it refuses new spans (the app's exporter drops them) instead of being killed.
COLLECTOR_MEMORY_MIB = 128
# Where each variant finds out what it runs on (resource attributes X-Ray shows as the origin).
_DETECTORS = {"ecs": ["env", "ecs"], "ec2": ["env", "ec2"]}


def tracing_environment() -> dict[str, Any]:
    """The app's OpenTelemetry settings (web, worker and scheduler on ECS, and the EC2 web
    instances): spans go to the collector beside it."""
    return {
        "TRACING_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_HTTP_ENDPOINT,
        "OTEL_SERVICE_NAME": sub("${ResourcePrefix}shopstack-${ServiceName}"),
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": ref("TraceSampleRatio"),
    }


def _collector_config(variant: str) -> str:
    """The collector's configuration as YAML text with ${...} for CloudFormation to substitute."""
    config = {
        "extensions": {"health_check": {"endpoint": "127.0.0.1:13133"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    # Loopback only: the app beside it is the one sender.
                    "grpc": {"endpoint": "127.0.0.1:4317"},
                    "http": {"endpoint": "127.0.0.1:4318"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_mib": 100, "spike_limit_mib": 25},
            "resourcedetection": {"detectors": _DETECTORS[variant], "timeout": "2s", "override": False},
            # Before the batch processor (ADOT's note): batching first could split a trace.
            "tail_sampling": {
                "decision_wait": "10s",
                "num_traces": 20000,
                "policies": [
                    {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
                    {"name": "slow", "type": "latency", "latency": {"threshold_ms": "${SlowTraceMs}"}},
                    {
                        "name": "the-rest",
                        "type": "probabilistic",
                        "probabilistic": {"sampling_percentage": "${TraceKeepPercent}"},
                    },
                ],
            },
            "batch": {"timeout": "5s", "send_batch_size": 256},
        },
        # The order number and order id become X-Ray annotations: traces are searchable by them
        # (apps/core/tracing.py tags the spans of an order's saga with both).
        "exporters": {
            "awsxray": {
                "region": "${AWS::Region}",
                "indexed_attributes": ["shopstack.order_number", "shopstack.order_id"],
            }
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "resourcedetection", "tail_sampling", "batch"],
                    "exporters": ["awsxray"],
                }
            },
            "telemetry": {"logs": {"level": "warn"}},
        },
    }
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def collector_config(variant: str) -> dict:
    """`CollectorConfig: <the configuration>`, an Fn::Sub variable of the EC2 web instances' user
    data (variant "ec2"), which writes it to the file the collector container reads."""
    return {"CollectorConfig": sub(_collector_config(variant))}


def collector_container(role: str) -> list[dict]:
    """The ADOT collector sidecar of an ECS task: not essential (the app keeps serving without
    traces), restarted by ECS when it exits, its configuration in AOT_CONFIG_CONTENT (a change is
    a task definition change, released like any other)."""
    return [
        {
            "Name": COLLECTOR_NAME,
            "Image": ref("CollectorImage"),
            "Essential": False,
            "RestartPolicy": {"Enabled": True, "RestartAttemptPeriod": COLLECTOR_RESTART_PERIOD_SECONDS},
            "Command": ["--config=env:AOT_CONFIG_CONTENT"],
            "Environment": [{"Name": "AOT_CONFIG_CONTENT", "Value": sub(_collector_config("ecs"))}],
            "ReadonlyRootFilesystem": True,
            "Memory": COLLECTOR_MEMORY_MIB,
            # ADOT's image checks its health_check extension (127.0.0.1:13133) with /healthcheck.
            "HealthCheck": {
                "Command": ["CMD", "/healthcheck"],
                "Interval": 15,
                "Timeout": 5,
                "Retries": 3,
                "StartPeriod": 10,
            },
            "LogConfiguration": {
                "LogDriver": "awslogs",
                "Options": {
                    "awslogs-group": ref("LogGroup"),
                    "awslogs-region": ref("AWS::Region"),
                    "awslogs-stream-prefix": f"{COLLECTOR_NAME}-{role}",
                },
            },
        }
    ]
