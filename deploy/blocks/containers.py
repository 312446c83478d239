"""The app container of every task definition (web, worker, scheduler, migrate), and the scheduler
container of the all-in-one task."""

from __future__ import annotations

from blocks.common import ALL_IN_ONE_KNOWN, SPLIT_KNOWN, platform_import, ref, specialise, sub
from blocks.environment import container_environment, container_secrets, role_environment
from blocks.tracing import COLLECTOR_NAME, COLLECTOR_RESTART_PERIOD_SECONDS

# The tiers only the split shape has: their containers are rendered for it alone.
SPLIT_ONLY_ROLES = ("worker", "scheduler")


def container(role: str) -> dict:
    """The app container of `role`'s task definition (web and migrate in both shapes, worker and
    scheduler in the split shape only)."""
    rendered = _container(role)
    return specialise(rendered, SPLIT_KNOWN) if role in SPLIT_ONLY_ROLES else rendered


def _container(role: str) -> dict:
    # Web, worker and scheduler send spans to the collector beside them: it starts first.
    traced = {"DependsOn": [{"ContainerName": COLLECTOR_NAME, "Condition": "START"}]} if role != "migrate" else {}
    return {
        "Image": sub("${Repository}:${ImageTag}", {"Repository": platform_import("RepositoryUri")}),
        "Essential": True,
        "ReadonlyRootFilesystem": True,
        "LinuxParameters": {"InitProcessEnabled": True},
        "MountPoints": [
            {"ContainerPath": "/tmp", "SourceVolume": "tmp", "ReadOnly": False},  # noqa: S108
            # ECS Exec's agent writes here; with a read-only root filesystem it needs volumes.
            {"ContainerPath": "/var/lib/amazon", "SourceVolume": "ssm-agent-state", "ReadOnly": False},
            {"ContainerPath": "/var/log/amazon", "SourceVolume": "ssm-agent-logs", "ReadOnly": False},
        ],
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": ref("LogGroup"),
                "awslogs-region": ref("AWS::Region"),
                "awslogs-stream-prefix": role,
            },
        },
        "Environment": container_environment(role) + role_environment(role),
        "Secrets": container_secrets(role),
        **traced,
    }


def all_in_one_scheduler() -> list:
    """The all-in-one task's second container (service.yaml, ServiceName all): Celery beat running
    every service's periodic work in its own process (the outbox sweep, retention, deadlines, the
    provider's reconciliation; deploy/heartbeat.py runs each due task there: there is no broker).
    Not essential: a scheduler that exits is restarted in place and never takes the shop's web down
    with it; one that hangs stops the outbox sweep's reports, which OutboxStuckAlarm watches."""
    scheduler = {
        "Name": "scheduler",
        "Command": ["beat"],
        "StopTimeout": 30,
        # deploy/healthcheck.py: the heartbeat of beat's scheduler loop.
        "HealthCheck": {
            "Command": ["CMD", "python", "/app/deploy/healthcheck.py"],
            "Interval": 30,
            "Timeout": 5,
            "Retries": 3,
            "StartPeriod": 60,
        },
        **specialise(_container("scheduler"), ALL_IN_ONE_KNOWN),
        "Essential": False,
        "RestartPolicy": {"Enabled": True, "RestartAttemptPeriod": COLLECTOR_RESTART_PERIOD_SECONDS},
    }
    return [{"Fn::If": ["AllInOne", scheduler, ref("AWS::NoValue")]}]
