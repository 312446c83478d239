"""pipeline.yaml's per-service stages: a migrate and a release action per service (or, with the
pipeline's Shape all-in-one, one each for the all-in-one stack), the web platform parameters and
the stacks a release may update."""

from __future__ import annotations

import json
from typing import Any

from blocks.common import SERVICES, ref, sub
from blocks.services import ALL_IN_ONE


def _by_shape(actions: dict[str, Any]) -> list:
    """Each service's action where the pipeline releases the split shape, the all-in-one stack's
    where it releases that one (its Shape parameter)."""
    return [
        {"Fn::If": ["AllInOne" if name == ALL_IN_ONE else "Split", action, ref("AWS::NoValue")]}
        for name, action in actions.items()
    ]


def migrate_actions() -> dict:
    return {
        "Actions": _by_shape(
            {
                service: {
                    "Name": f"migrate-{service}",
                    "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                    "InputArtifacts": [{"Name": "Source"}, {"Name": "BuildOutput"}],
                    "Configuration": {
                        "ProjectName": ref("MigrateProject"),
                        "PrimarySource": "Source",
                        "EnvironmentVariables": json.dumps(
                            [{"name": "SERVICE", "value": service, "type": "PLAINTEXT"}]
                        ),
                    },
                    "RunOrder": 1,
                }
                for service in [*SERVICES, ALL_IN_ONE]
            }
        )
    }


def web_platform_parameters() -> dict:
    """<Service>WebPlatform: where each service's web tier runs, the WebPlatform its service stack
    was deployed with; that service's release action also runs the EC2 colour swap when it is ec2."""
    return {
        f"{service.capitalize()}WebPlatform": {
            "Type": "String",
            "Default": "ecs",
            "AllowedValues": ["ecs", "ec2"],
            "Description": f"WebPlatform of the {service} service stack (ec2: released by deploy/release_ec2.py)",
        }
        for service in SERVICES
    }


def release_stacks() -> dict:
    """The stacks a release may update: each service's stack and its EC2 web stack, by name (a
    wildcard after the prefix would also match the platform, network, API and pipeline stacks)."""
    arn = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${ServiceStackPrefix}"
    return {
        "Resource": [sub(f"{arn}{service}{suffix}/*") for service in SERVICES for suffix in ("", "-web-ec2")]
        + [sub(f"{arn}{ALL_IN_ONE}/*")]
    }


def _release_variables(service: str) -> Any:
    """The release action's SERVICE and WEB_PLATFORM (the pipeline's <Service>WebPlatform; the
    all-in-one stack's one service runs on ECS)."""
    platform = "ecs" if service == ALL_IN_ONE else f"${{{service.capitalize()}WebPlatform}}"
    variables = json.dumps(
        [
            {"name": "SERVICE", "value": service, "type": "PLAINTEXT"},
            {"name": "WEB_PLATFORM", "value": platform, "type": "PLAINTEXT"},
        ]
    )
    return variables if service == ALL_IN_ONE else sub(variables)


def deploy_actions() -> dict:
    """One release action per service (deploy/buildspec-release.yml): a stack update of the service
    stack that changes only ImageTag (deploy/release.py), in which CloudFormation updates the worker
    and scheduler before the web tier (ECS blue/green); then, for a web tier on EC2, the colour swap
    of deploy/release_ec2.py. The services release side by side, each after the Migrate stage."""
    return {
        "Actions": _by_shape(
            {
                service: {
                    "Name": f"release-{service}",
                    "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                    "InputArtifacts": [{"Name": "Source"}, {"Name": "BuildOutput"}],
                    "Configuration": {
                        "ProjectName": ref("ReleaseProject"),
                        "PrimarySource": "Source",
                        "EnvironmentVariables": _release_variables(service),
                    },
                    "RunOrder": 1,
                }
                for service in [*SERVICES, ALL_IN_ONE]
            }
        )
    }
