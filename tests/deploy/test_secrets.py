"""Secrets reach the containers by ARN, each service gets only its own, and the role that injects
them may read exactly those. ECS reads a `ValueFrom` that is not a Secrets Manager ARN as the name
of an SSM parameter: a secret given by name fails every task start."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.services import SERVICES
from tests.deploy.templates import (
    TEMPLATE_NAMES,
    exists,
    iam_statements,
    load,
    resolve,
    resources,
    secret_arn,
    secret_arn_parameters,
    secret_value_from_problems,
    service_parameters,
    task_containers,
)

WEBHOOK_SECRET_ARN = secret_arn("shopstack/payments/webhook")
PRIVATE_KEY_ARN = secret_arn("shopstack/jwt-private-key")
SEALING_KEYS_ARN = secret_arn("shopstack/event-sealing-keys")
STRIPE_KEY_ARN = secret_arn("shopstack/payments/stripe-secret-key")
STRIPE_WEBHOOK_ARN = secret_arn("shopstack/payments/stripe-webhook-secret")
STRIPE_SECRETS = {"STRIPE_SECRET_KEY": STRIPE_KEY_ARN, "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_ARN}
SEALS_EVENTS = {"users", "orders", "notifications"}


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_container_secret_is_named_by_its_arn(name):
    assert secret_value_from_problems(load(name)) == []


def test_the_check_sees_the_task_definitions_secrets():
    service = load("service")
    tasks = resources(service, "AWS::ECS::TaskDefinition")
    assert len(tasks) == 4
    assert all(len(task["Properties"]["ContainerDefinitions"][0]["Secrets"]) >= 4 for task in tasks.values())


@pytest.mark.parametrize(
    "value_from",
    [
        "shopstack/jwt-public-keys",
        {"Ref": "JwtPublicKeysSecretName"},
        {"Fn::Sub": "${JwtPublicKeysSecretName}"},
        {"Fn::Sub": "${DatabaseSecret}-password"},
    ],
    ids=["literal-name", "name-parameter", "name-in-sub", "not-a-json-key"],
)
def test_a_secret_given_otherwise_fails_the_check(value_from):
    service = load("service")
    # How the template named the JWT secrets before: a parameter holding the secret's name.
    service["Parameters"]["JwtPublicKeysSecretName"] = {"Type": "String", "Default": "shopstack/jwt-public-keys"}
    container = service["Resources"]["WebTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    (secret,) = (item for item in container["Secrets"] if item.get("Name") == "JWT_PUBLIC_KEYS")
    secret["ValueFrom"] = value_from
    (problem,) = secret_value_from_problems(service)
    assert problem.startswith("WebTaskDefinition: JWT_PUBLIC_KEYS")


@pytest.mark.parametrize("name", ["service", "service-asg"])
def test_the_secret_parameters_admit_only_full_arns(name):
    template = load(name)
    expected = {
        "JwtPublicKeysSecretArn",
        "JwtPrivateKeySecretArn",
        "PaymentsWebhookSecretArn",
        "StripeSecretKeySecretArn",
        "StripeWebhookSecretSecretArn",
        "EventSealingKeysSecretArn",
    }
    assert secret_arn_parameters(template) >= expected
    # Only the per-service secrets may be left out (each one's Rule requires it there).
    optional = {name for name in expected if template["Parameters"][name].get("Default") == ""}
    assert optional == expected - {"JwtPublicKeysSecretArn"}
    rules = {
        json.dumps(rule["RuleCondition"]): [assertion["Assert"] for assertion in rule["Assertions"]]
        for rule in template["Rules"].values()
    }

    def runs(*services: str) -> dict:
        # The stacks running these services: service.yaml's all-in-one stack runs them all.
        choices = [{"Fn::Equals": [{"Ref": "ServiceName"}, service]} for service in services]
        if name == "service":
            choices.append({"Fn::Equals": [{"Ref": "ServiceName"}, "all"]})
        return choices[0] if len(choices) == 1 else {"Fn::Or": choices}

    for service, parameter in (("users", "JwtPrivateKeySecretArn"), ("payments", "PaymentsWebhookSecretArn")):
        required = {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}
        assert required in rules[json.dumps(runs(service))]
    sealing = runs("users", "orders", "notifications")
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "EventSealingKeysSecretArn"}, ""]}]} in rules[json.dumps(sealing)]
    # The Stripe secrets are required where payments charges through Stripe, not on the sandbox.
    on_stripe = {"Fn::And": [runs("payments"), {"Fn::Equals": [{"Ref": "PaymentsProvider"}, "stripe"]}]}
    for parameter in ("StripeSecretKeySecretArn", "StripeWebhookSecretSecretArn"):
        assert {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]} in rules[json.dumps(on_stripe)]
    assert template["Parameters"]["PaymentsProvider"]["Default"] == "stripe"
    assert template["Parameters"]["PaymentsProvider"]["AllowedValues"] == ["stripe", "sandbox"]


def _base(value_from: Any) -> str:
    """The secret a ValueFrom names, without ECS's `:json-key::` part, for comparing with IAM."""
    if isinstance(value_from, dict) and "Fn::Sub" in value_from:
        return json.dumps({"Ref": value_from["Fn::Sub"].split("}")[0].removeprefix("${")})
    return json.dumps(value_from)


def _execution_role_secrets(template: dict, parameters: dict[str, Any]) -> set[str]:
    readable = set()
    for name, statement in iam_statements(template):
        resource = template["Resources"][name]
        role = name == "ExecutionRole" or {"Ref": "ExecutionRole"} in resource["Properties"].get("Roles", [])
        if (
            not role
            or not exists(template, resource, parameters)
            or statement["Action"] != "secretsmanager:GetSecretValue"
        ):
            continue
        targets = resolve(statement["Resource"], template, parameters)
        readable |= {json.dumps(target) for target in (targets if isinstance(targets, list) else [targets])}
    return readable


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_execution_role_may_read_exactly_the_secrets_it_injects(service):
    template = load("service")
    parameters = service_parameters(service)
    injected = {
        _base(secret["ValueFrom"])
        for container in task_containers(template, parameters).values()
        for secret in container["Secrets"]
    }
    assert injected == _execution_role_secrets(template, parameters)


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_gets_only_its_own_secrets(service):
    for container in task_containers(load("service"), service_parameters(service)).values():
        secrets = {secret["Name"]: secret["ValueFrom"] for secret in container["Secrets"]}
        assert secrets.get("PAYMENTS_WEBHOOK_SECRET") == (WEBHOOK_SECRET_ARN if service == "payments" else None)
        assert secrets.get("JWT_PRIVATE_KEY") == (PRIVATE_KEY_ARN if service == "users" else None)
        assert secrets.get("EVENT_SEALING_KEYS") == (SEALING_KEYS_ARN if service in SEALS_EVENTS else None)
        for name, arn in STRIPE_SECRETS.items():
            assert secrets.get(name) == (arn if service == "payments" else None)


def test_every_payments_task_gets_the_stripe_secrets_and_the_provider():
    containers = task_containers(load("service"), service_parameters("payments"))

    assert set(containers) == {
        "WebTaskDefinition",
        "WorkerTaskDefinition",
        "SchedulerTaskDefinition",
        "MigrateTaskDefinition",
    }
    for name, container in containers.items():
        secrets = {secret["Name"]: secret["ValueFrom"] for secret in container["Secrets"]}
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert {key: secrets.get(key) for key in STRIPE_SECRETS} == STRIPE_SECRETS, name
        assert secrets["PAYMENTS_WEBHOOK_SECRET"] == WEBHOOK_SECRET_ARN, name
        assert environment["PAYMENTS_PROVIDER"] == "stripe", name
        assert environment["PAYMENTS_ALLOW_SANDBOX"] == "false", name


def test_a_sandbox_payments_stack_needs_no_stripe_secrets_and_allows_the_sandbox():
    template = load("service")
    parameters = service_parameters(
        "payments", PaymentsProvider="sandbox", StripeSecretKeySecretArn="", StripeWebhookSecretSecretArn=""
    )

    for name, container in task_containers(template, parameters).items():
        secrets = {secret["Name"] for secret in container["Secrets"]}
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert not secrets & set(STRIPE_SECRETS), name
        assert environment["PAYMENTS_PROVIDER"] == "sandbox", name
        assert environment["PAYMENTS_ALLOW_SANDBOX"] == "true", name
    readable = _execution_role_secrets(template, parameters)
    assert not readable & {json.dumps(STRIPE_KEY_ARN), json.dumps(STRIPE_WEBHOOK_ARN)}


def test_the_payments_stack_runs_one_beat_scheduler():
    # The reconciliation with Stripe is a Celery beat entry of payments (config/settings/base.py).
    template = load("service")
    parameters = service_parameters("payments")
    scheduler = template["Resources"]["SchedulerService"]

    assert exists(template, scheduler, parameters)
    assert scheduler["Properties"]["DesiredCount"] == 1
    assert scheduler["Properties"]["TaskDefinition"] == {"Ref": "SchedulerTaskDefinition"}
    assert task_containers(template, parameters)["SchedulerTaskDefinition"]["Command"] == ["beat"]


@pytest.mark.parametrize("service", [name for name in SERVICES if name != "payments"])
def test_no_other_service_gets_the_payments_provider(service):
    for container in task_containers(load("service"), service_parameters(service)).values():
        environment = {item["Name"] for item in container["Environment"]}
        assert not environment & {"PAYMENTS_PROVIDER", "PAYMENTS_ALLOW_SANDBOX"}


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_ec2_web_tier_reads_the_same_secrets(service):
    template = load("service-asg")
    parameters = service_parameters(service)
    (statement,) = (s for _, s in iam_statements(template) if s.get("Sid") == "ReadSecrets")
    readable = resolve(statement["Resource"], template, parameters)
    assert (WEBHOOK_SECRET_ARN in readable) == (service == "payments")
    assert (PRIVATE_KEY_ARN in readable) == (service == "users")
    assert (SEALING_KEYS_ARN in readable) == (service in SEALS_EVENTS)
    assert (STRIPE_KEY_ARN in readable) == (STRIPE_WEBHOOK_ARN in readable) == (service == "payments")
    assert secret_arn("shopstack/jwt-public-keys") in readable
    for colour in ("Blue", "Green"):
        data = template["Resources"][f"LaunchTemplate{colour}"]["Properties"]["LaunchTemplateData"]
        text = data["UserData"]["Fn::Base64"]["Fn::Sub"][0]
        assert (
            'if [ "${ServiceName}" = payments ]; then\n'
            '  webhook="$(aws secretsmanager get-secret-value --region ${AWS::Region} '
            '--secret-id "${PaymentsWebhookSecretArn}" --query SecretString --output text)"\nfi\n'
        ) in text
        assert "\nPAYMENTS_WEBHOOK_SECRET=$webhook\n" in text
        assert (
            'if [ "${ServiceName}" = payments ] && [ "${PaymentsProvider}" = stripe ]; then\n'
            '  stripe_key="$(aws secretsmanager get-secret-value --region ${AWS::Region} '
            '--secret-id "${StripeSecretKeySecretArn}" --query SecretString --output text)"\n'
            '  stripe_webhook="$(aws secretsmanager get-secret-value --region ${AWS::Region} '
            '--secret-id "${StripeWebhookSecretSecretArn}" --query SecretString --output text)"\nfi\n'
        ) in text
        assert "\nSTRIPE_SECRET_KEY=$stripe_key\nSTRIPE_WEBHOOK_SECRET=$stripe_webhook\n" in text
        assert '--secret-id "${EventSealingKeysSecretArn}"' in text and "\nEVENT_SEALING_KEYS=$sealing\n" in text
        assert '--secret-id "${JwtPublicKeysSecretArn}"' in text and '--secret-id "${JwtPrivateKeySecretArn}"' in text
