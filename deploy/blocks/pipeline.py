"""pipeline.yaml's per-service stages: a migrate and a release action per service, the web
platform parameters and the stacks a release may update."""

from __future__ import annotations

import json

from blocks.common import SERVICES, ref, sub


def migrate_actions() -> dict:
    return {
        "Actions": [
            {
                "Name": f"migrate-{service.name}",
                "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "InputArtifacts": [{"Name": "Source"}, {"Name": "BuildOutput"}],
                "Configuration": {
                    "ProjectName": ref("MigrateProject"),
                    "PrimarySource": "Source",
                    "EnvironmentVariables": json.dumps(
                        [{"name": "SERVICE", "value": service.name, "type": "PLAINTEXT"}]
                    ),
                },
                "RunOrder": 1,
            }
            for service in SERVICES.values()
        ]
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
    return {"Resource": [sub(f"{arn}{service}{suffix}/*") for service in SERVICES for suffix in ("", "-web-ec2")]}


def deploy_actions() -> dict:
    """One release action per service (deploy/buildspec-release.yml): a stack update of the service
    stack that changes only ImageTag (deploy/release.py), in which CloudFormation updates the worker
    and scheduler before the web tier (ECS blue/green); then, for a web tier on EC2, the colour swap
    of deploy/release_ec2.py. The services release side by side, each after the Migrate stage."""
    return {
        "Actions": [
            {
                "Name": f"release-{service}",
                "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "InputArtifacts": [{"Name": "Source"}, {"Name": "BuildOutput"}],
                "Configuration": {
                    "ProjectName": ref("ReleaseProject"),
                    "PrimarySource": "Source",
                    "EnvironmentVariables": sub(
                        json.dumps(
                            [
                                {"name": "SERVICE", "value": service, "type": "PLAINTEXT"},
                                {
                                    "name": "WEB_PLATFORM",
                                    "value": f"${{{service.capitalize()}WebPlatform}}",
                                    "type": "PLAINTEXT",
                                },
                            ]
                        )
                    ),
                },
                "RunOrder": 1,
            }
            for service in SERVICES
        ]
    }
