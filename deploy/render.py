#!/usr/bin/env python3
"""Renders the per-service parts of the CloudFormation templates from the service registry
(config/services.py) and the services' event declarations (apps/<svc>/contracts/events.py):

    python deploy/render.py           # rewrite the generated blocks in deploy/cloudformation/*.yaml
    python deploy/render.py --check   # exit 1 if any generated block is out of date (CI)

A generated block sits between `# >>> render: NAME [ARG]` and `# <<< render: NAME [ARG]` marker
comments; everything outside the markers is hand-written. Run it after adding a service or changing
a PUBLISHES/SUBSCRIBES declaration. Plain Python: no Django is imported or configured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "deploy" / "cloudformation"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.services import SERVICES  # noqa: E402

# Container port of the web role (gunicorn binds $PORT) and the listener rule priorities.
WEB_PORT = 8000
# Proxies that append to X-Forwarded-For before a web task: API Gateway, then the load balancer.
TRUSTED_PROXY_COUNT = 2
FIRST_LISTENER_PRIORITY = 100

# Services whose API has anonymous endpoints the gateway must let through; Django authenticates
# every request anyway, so the gateway's JWT check is an early filter, not the only one.
GATEWAY_ANONYMOUS = {
    "users": "registration, login, token refresh and password reset come without a token",
    "catalog": "shoppers browse products before they log in",
    "payments": "payment providers call the webhooks, signed by the provider, not with a JWT",
}

# Paths a service serves at the site root, outside its own prefixes (the `root_urlpatterns` of
# apps/<service>/api/urls.py). They get a listener rule of their own: one path-pattern condition
# holds at most three values, and the service's prefixes already use them.
ROOT_PATHS = {
    # Key discovery: API Gateway's JWT authorizer reads {JWT_ISSUER}/.well-known/openid-configuration
    # and the jwks_uri it names (/.well-known/jwks.json) through the gateway and this load balancer.
    "users": ["/.well-known/*"],
}

_MARKER = re.compile(
    r"^(?P<indent>[ ]*)# >>> render: (?P<spec>[^\n]+?)[ ]*\n.*?^(?P=indent)# <<< render: (?P=spec)[ ]*$",
    re.MULTILINE | re.DOTALL,
)


def _declarations() -> ModuleType:
    # Loaded by path: importing the apps.core.events package would pull in Django models.
    path = ROOT / "apps" / "core" / "events" / "declarations.py"
    spec = importlib.util.spec_from_file_location("shopstack_declarations", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subscribed_event_types(service: str) -> list[str]:
    return sorted(_declarations().subscribes(service))


def ref(name: str) -> dict:
    return {"Ref": name}


def sub(text: str, variables: dict | None = None) -> dict:
    return {"Fn::Sub": [text, variables] if variables else text}


def platform_import(export: str) -> dict:
    return {"Fn::ImportValue": sub("${PlatformStackName}-" + export)}


def only_for(service: str, value: Any) -> dict:
    """`value` in the stack of `service`, nothing in the others (Is<Service> is a condition of the
    template)."""
    return {"Fn::If": [f"Is{service.capitalize()}", value, ref("AWS::NoValue")]}


# Settings only one service reads, by service: that service's tasks get them, the others do not.
SERVICE_ENVIRONMENT: dict[str, dict[str, Any]] = {
    # Orders prices carts with catalog's API, through the internal load balancer under the name on
    # its certificate (the platform's LoadBalancerServerName, also in catalog's AllowedHosts).
    "orders": {"CATALOG_API_URL": sub("https://${Name}", {"Name": platform_import("LoadBalancerServerName")})},
    # The sender of every shopper email: an address of the SES identity in SesIdentityArn.
    "notifications": {"DEFAULT_FROM_EMAIL": ref("NotificationsFromEmail")},
    # Stripe, or (a staging stack taking no money) the sandbox, which production refuses without
    # PAYMENTS_ALLOW_SANDBOX.
    "payments": {
        "PAYMENTS_PROVIDER": ref("PaymentsProvider"),
        "PAYMENTS_ALLOW_SANDBOX": {"Fn::If": ["PaymentsOnSandbox", "true", "false"]},
    },
}
# Secrets only one service gets, by service; the value is the secret's full ARN (a parameter).
SERVICE_SECRETS: dict[str, dict[str, Any]] = {
    # users seals the password reset and email verification links, orders a guest order's access
    # token; notifications opens them (apps/core/sealing.py).
    "users": {"JWT_PRIVATE_KEY": ref("JwtPrivateKeySecretArn"), "EVENT_SEALING_KEYS": ref("EventSealingKeysSecretArn")},
    "orders": {"EVENT_SEALING_KEYS": ref("EventSealingKeysSecretArn")},
    "payments": {"PAYMENTS_WEBHOOK_SECRET": ref("PaymentsWebhookSecretArn")},
    "notifications": {"EVENT_SEALING_KEYS": ref("EventSealingKeysSecretArn")},
}
# Secrets a service gets only when a condition of the template holds, by condition: payments'
# Stripe keys where it charges through Stripe (the sandbox needs none).
CONDITIONAL_SECRETS: dict[str, dict[str, Any]] = {
    "InjectsStripeSecrets": {
        "STRIPE_SECRET_KEY": ref("StripeSecretKeySecretArn"),
        "STRIPE_WEBHOOK_SECRET": ref("StripeWebhookSecretSecretArn"),
    },
}


# --- service.yaml / service-asg.yaml ------------------------------------------------------------


def services_mapping() -> dict:
    services = {}
    for index, service in enumerate(SERVICES.values()):
        event_types = subscribed_event_types(service.name)
        services[service.name] = {
            "Queue": service.queue,
            "DeadLetterQueue": service.dead_letter_queue,
            "DatabaseName": service.name,
            "ListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index,
            "PathPatterns": [f"/{service.url_prefix}*", f"/admin/{service.name}/*", f"/static/{service.name}/*"],
            # A second rule (WebRootListenerRule), right after the first, for ROOT_PATHS.
            "ServesRootPaths": "true" if service.name in ROOT_PATHS else "false",
            "RootListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index + 1,
            "RootPathPatterns": ROOT_PATHS.get(service.name, ["/none"]),
            "Subscribes": "true" if event_types else "false",
            # A mapping value may not be an empty list; with Subscribes "false" nothing reads it.
            "EventTypes": event_types or ["none"],
        }
    return {"Services": services}


def service_names() -> dict:
    return {"AllowedValues": list(SERVICES)}


def _database_endpoint(attribute: str, variant: str) -> dict:
    """The service's database endpoint: the service stack's own RDS instance, or (the EC2 variant,
    a stack of its own) the service stack's export of it."""
    if variant == "ecs":
        return {"Fn::GetAtt": ["Database", f"Endpoint.{attribute}"]}
    return {"Fn::ImportValue": sub(f"${{ServiceStackName}}-Database{attribute}")}


def environment(variant: str = "ecs") -> dict[str, Any]:
    """The web/worker/scheduler environment, by name: the ECS task definitions' Environment
    (variant "ecs", service.yaml) and the EC2 web instances' env file (variant "ec2",
    service-asg.yaml) are both rendered from it, so the two cannot drift apart. A Ref names a
    parameter both templates declare alike (tests/deploy checks that)."""
    return {
        "SERVICE": ref("ServiceName"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": ref("AllowedHosts"),
        "PORT": str(WEB_PORT),
        "LOG_FORMAT": "json",
        "AWS_REGION": ref("AWS::Region"),
        "AWS_ACCOUNT_ID": ref("AWS::AccountId"),
        "AWS_RESOURCE_PREFIX": ref("ResourcePrefix"),
        "EVENTS_TOPIC_ARN": platform_import("EventsTopicArn"),
        # kombu's SQS transport with the task role's credentials; queues are predefined in settings.
        "CELERY_BROKER_URL": "sqs://",
        "CELERY_VISIBILITY_TIMEOUT": ref("VisibilityTimeout"),
        "EVENTS_MAX_RECEIVES": ref("MaxReceiveCount"),
        # The outbox sweep's OutboxOldestUnsentAge as embedded-metric log lines (OutboxStuckAlarm).
        "METRICS_EMBEDDED": "true",
        # deploy/entrypoint.py assembles DATABASE_URL from these and the injected credentials.
        "DATABASE_HOST": _database_endpoint("Address", variant),
        "DATABASE_PORT": _database_endpoint("Port", variant),
        "DATABASE_NAME": {"Fn::FindInMap": ["Services", ref("ServiceName"), "DatabaseName"]},
        "DATABASE_SSLMODE": "require",
        # One issuer and audience for the tokens users signs, every service checks and API
        # Gateway's authorizer checks: the platform stack's parameters, exported.
        "JWT_ISSUER": platform_import("JwtIssuer"),
        "JWT_AUDIENCE": platform_import("JwtAudience"),
        # Django's cache, shared by every task and worker (the platform's ElastiCache Serverless):
        # throttles count across processes. rediss: the cache accepts TLS only; /0: the only
        # database a serverless cache has. Production refuses to start without it.
        "REDIS_URL": sub(
            "rediss://${Address}:${Port}/0",
            {"Address": platform_import("CacheAddress"), "Port": platform_import("CachePort")},
        ),
        "AWS_STORAGE_BUCKET_NAME": platform_import("MediaBucketName"),
        "AWS_LOCATION": ref("ServiceName"),
        # Links in emails (password reset, order pages) point at the shop front end.
        "SHOP_FRONTEND_URL": ref("ShopFrontendUrl"),
        # A request reaches a task through API Gateway (HTTP API), its VPC link and the load
        # balancer: API Gateway appends the caller's address to X-Forwarded-For, the load balancer
        # appends the VPC link's, so the client is the 2nd address from the right (deploy/README.md).
        "TRUSTED_PROXY_COUNT": str(TRUSTED_PROXY_COUNT),
        # Origins forms are posted from: the public API origin (the issuer) and the load balancer's
        # name, where staff reach the admin from inside the VPC (the gateway routes no /admin).
        "DJANGO_CSRF_TRUSTED_ORIGINS": sub(
            "${Issuer},https://${Internal}",
            {"Issuer": platform_import("JwtIssuer"), "Internal": platform_import("LoadBalancerServerName")},
        ),
        # Storefronts (browsers on other origins) that may call the API; empty: none.
        "CORS_ALLOWED_ORIGINS": ref("CorsAllowedOrigins"),
    }


def container_environment() -> list[dict]:
    return [{"Name": name, "Value": value} for name, value in environment("ecs").items()] + [
        only_for(service, {"Name": name, "Value": value})
        for service, variables in SERVICE_ENVIRONMENT.items()
        for name, value in variables.items()
    ]


def _env_file_line(name: str, value: Any) -> Any:
    """`NAME=value` as a string CloudFormation builds: literal, or an Fn::Sub."""
    if isinstance(value, str):
        assert "${" not in value and "\n" not in value, value
        return f"{name}={value}"
    if set(value) == {"Ref"}:
        return sub(f"{name}=${{{value['Ref']}}}")
    if set(value) == {"Fn::Sub"}:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], None)
        return sub(f"{name}={text}", variables)
    return sub(f"{name}=${{Value}}", {"Value": value})


def ec2_environment() -> dict:
    """The `Environment` variable of the EC2 web instances' user data (service-asg.yaml): the env
    file lines of environment("ec2") and SERVICE_ENVIRONMENT, one a line. A service-specific line
    is empty in the other services' stacks (docker's --env-file skips empty lines)."""
    lines = [_env_file_line(name, value) for name, value in environment("ec2").items()] + [
        {"Fn::If": [f"Is{service.capitalize()}", _env_file_line(name, value), ""]}
        for service, variables in SERVICE_ENVIRONMENT.items()
        for name, value in variables.items()
    ]
    return {"Environment": {"Fn::Join": ["\n", lines]}}


def database_secrets(role: str) -> list[dict]:
    """The database credentials a role gets: migrate the owner's (the RDS master secret) plus the
    application role's first password (deploy/migrate.py creates that role when missing); every
    other role the application role's secret, which Secrets Manager rotates (alternating users)."""
    if role == "migrate":
        return [
            {"Name": "DATABASE_USER", "ValueFrom": sub("${DatabaseSecret}:username::")},
            {"Name": "DATABASE_PASSWORD", "ValueFrom": sub("${DatabaseSecret}:password::")},
            {"Name": "DATABASE_APP_PASSWORD", "ValueFrom": sub("${AppDatabaseSecret}:password::")},
        ]
    return [
        {"Name": "DATABASE_USER", "ValueFrom": sub("${AppDatabaseSecret}:username::")},
        {"Name": "DATABASE_PASSWORD", "ValueFrom": sub("${AppDatabaseSecret}:password::")},
    ]


def container_secrets(role: str = "web") -> list[Any]:
    # ValueFrom is always a secret's ARN: ECS reads anything else as an SSM parameter name.
    # Ref of an AWS::SecretsManager::Secret is its ARN; the shared secrets come as ARN parameters.
    return (
        [
            {"Name": "DJANGO_SECRET_KEY", "ValueFrom": ref("AppSecret")},
            *database_secrets(role),
            {"Name": "JWT_PUBLIC_KEYS", "ValueFrom": ref("JwtPublicKeysSecretArn")},
        ]
        + [
            only_for(service, {"Name": name, "ValueFrom": value})
            for service, secrets in SERVICE_SECRETS.items()
            for name, value in secrets.items()
        ]
        + [
            {"Fn::If": [condition, {"Name": name, "ValueFrom": value}, ref("AWS::NoValue")]}
            for condition, secrets in CONDITIONAL_SECRETS.items()
            for name, value in secrets.items()
        ]
    )


def _role_environment(role: str) -> list[dict]:
    if role != "migrate":
        return []
    return [{"Name": "DATABASE_APP_ROLE", "Value": sub("shopstack_${ServiceName}_app")}]


def container(role: str) -> dict:
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
        "Environment": container_environment() + _role_environment(role),
        "Secrets": container_secrets(role),
    }


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


# --- platform.yaml --------------------------------------------------------------------------------


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


# --- api-gateway.yaml -----------------------------------------------------------------------------


def gateway_routes() -> dict:
    resources: dict[str, Any] = {}
    for service in SERVICES.values():
        anonymous = service.name in GATEWAY_ANONYMOUS
        route: dict[str, Any] = {
            "ApiId": ref("HttpApi"),
            "RouteKey": f"ANY /{service.url_prefix}{{proxy+}}",
            "Target": sub("integrations/${AlbIntegration}"),
        }
        if anonymous:
            route["AuthorizationType"] = "NONE"
        else:
            route.update({"AuthorizationType": "JWT", "AuthorizerId": ref("JwtAuthorizer")})
        resources[f"{service.name.capitalize()}Route"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Metadata": {"Authorization": GATEWAY_ANONYMOUS.get(service.name, "JWT checked at the gateway")},
            "Properties": route,
        }
    return resources


# --- pipeline.yaml --------------------------------------------------------------------------------


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


# --- the engine -----------------------------------------------------------------------------------

BLOCKS: dict[str, Callable[..., Any]] = {
    "services-mapping": services_mapping,
    "service-names": service_names,
    "container": container,
    "ec2-environment": ec2_environment,
    "deployment-alarms": deployment_alarms,
    "dashboard": dashboard,
    "gateway-routes": gateway_routes,
    "migrate-actions": migrate_actions,
    "deploy-actions": deploy_actions,
    "web-platform-parameters": web_platform_parameters,
    "web-rollback-alarm-names": web_rollback_alarm_names,
    "release-stacks": release_stacks,
}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # CloudFormation rejects YAML aliases
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # lists indented under keys
        super().increase_indent(flow, False)


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Block style for multi-line text; a bare line break (a join delimiter) reads better quoted.
    style = "|" if "\n" in value.strip("\n") else '"' if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render_block(spec: str) -> Any:
    name, *args = spec.split()
    if name not in BLOCKS:
        raise SystemExit(f"render: unknown block {name!r}")
    return BLOCKS[name](*args)


def _dump(value: Any, indent: str) -> str:
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return "".join(f"{indent}{line}".rstrip() + "\n" for line in text.splitlines())


def render_text(text: str) -> str:
    def replace(match: re.Match) -> str:
        indent, spec = match["indent"], match["spec"]
        body = _dump(render_block(spec), indent)
        return f"{indent}# >>> render: {spec}\n{body}{indent}# <<< render: {spec}"

    return _MARKER.sub(replace, text)


def render_all() -> dict[Path, tuple[str, str]]:
    """{template: (current text, rendered text)} for every template with generated blocks."""
    results = {}
    for path in sorted(TEMPLATES.glob("*.yaml")):
        current = path.read_text()
        if "# >>> render:" in current:
            results[path] = (current, render_text(current))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated block is out of date")
    options = parser.parse_args(argv)
    stale = []
    for path, (current, rendered) in render_all().items():
        if current == rendered:
            continue
        stale.append(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        if not options.check:
            path.write_text(rendered)
    if options.check and stale:
        print("render: out of date (run `python deploy/render.py`): " + ", ".join(map(str, stale)), file=sys.stderr)
        return 1
    for path in stale:
        print(f"render: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
