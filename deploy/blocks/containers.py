"""The app container of every task definition (web, worker, scheduler, migrate)."""

from __future__ import annotations

from blocks.common import platform_import, ref, sub
from blocks.environment import container_environment, container_secrets, role_environment
from blocks.tracing import COLLECTOR_NAME


def container(role: str) -> dict:
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
