"""The templates are rendered from the service registry and the event declarations: the committed
output is up to date, and what the templates subscribe equals what the services declare."""

from __future__ import annotations

import subprocess
import sys

import pytest

from apps.core.events.declarations import subscribes
from config.services import SERVICES
from tests.deploy.templates import ROOT, condition, exists, load, resolve, resources


@pytest.fixture(scope="module")
def service_template() -> dict:
    return load("service")


def test_rendered_templates_are_up_to_date():
    result = subprocess.run(
        [sys.executable, "deploy/render.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_render_check_fails_on_a_stale_block(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import render
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    stale = (ROOT / "deploy" / "cloudformation" / "service.yaml").read_text().replace("shopstack-catalog-dlq", "x")
    (tmp_path / "service.yaml").write_text(stale)
    monkeypatch.setattr(render, "TEMPLATES", tmp_path)
    assert render.main(["--check"]) == 1
    assert render.main([]) == 0
    assert render.main(["--check"]) == 0
    assert "shopstack-catalog-dlq" in (tmp_path / "service.yaml").read_text()


def _subscription(template: dict, service: str) -> dict | None:
    """The service stack's SNS subscription as deployed with ServiceName=service, or None."""
    parameters = {"ServiceName": service}
    subscriptions = [
        resolve(resource["Properties"], template, parameters)
        for resource in resources(template, "AWS::SNS::Subscription").values()
        if exists(template, resource, parameters)
    ]
    assert len(subscriptions) <= 1
    return subscriptions[0] if subscriptions else None


@pytest.mark.parametrize("service", list(SERVICES))
def test_subscription_filter_equals_declared_subscriptions(service_template, service):
    declared = subscribes(service)
    subscription = _subscription(service_template, service)
    if not declared:
        assert subscription is None, f"{service} subscribes to nothing, so it must have no subscription"
        return
    assert subscription is not None
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert set(subscription["FilterPolicy"]) == {"event_type"}
    assert sorted(subscription["FilterPolicy"]["event_type"]) == sorted(declared)
    assert subscription["RawMessageDelivery"] is True
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["Queue", "Arn"]}


def test_every_service_has_a_mapping_entry_and_nothing_else(service_template):
    # And the all-in-one stack's (ServiceName all: every service in one ECS service).
    assert set(service_template["Mappings"]["Services"]) == {*SERVICES, "all"}
    assert service_template["Parameters"]["ServiceName"]["AllowedValues"] == [*SERVICES, "all"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_queue_names_and_paths_come_from_the_registry(service_template, service):
    parameters = {"ServiceName": service}
    entry = service_template["Mappings"]["Services"][service]
    assert entry["Queue"] == SERVICES[service].queue
    assert entry["DeadLetterQueue"] == SERVICES[service].dead_letter_queue
    assert f"/{SERVICES[service].url_prefix}*" in entry["PathPatterns"]
    assert f"/admin/{service}/*" in entry["PathPatterns"]
    assert condition(service_template, "Subscribes", parameters) == bool(subscribes(service))


def test_listener_priorities_are_unique(service_template):
    priorities = [entry["ListenerPriority"] for entry in service_template["Mappings"]["Services"].values()]
    assert len(set(priorities)) == len(priorities)


def test_gateway_routes_every_service_and_authorizes_with_the_users_issuer():
    gateway = load("api-gateway")
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"] for r in resources(gateway, "AWS::ApiGatewayV2::Route").values()
    }
    for service in SERVICES.values():
        assert f"ANY /{service.url_prefix}{{proxy+}}" in routes
    assert routes["GET /.well-known/{proxy+}"]["AuthorizationType"] == "NONE"
    authorizer = gateway["Resources"]["JwtAuthorizer"]["Properties"]
    assert authorizer["AuthorizerType"] == "JWT"
    # The platform's issuer and audience, which the services get too (test_routing.py).
    assert authorizer["JwtConfiguration"] == {
        "Issuer": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-JwtIssuer"}},
        "Audience": [{"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-JwtAudience"}}],
    }
    assert any(route.get("AuthorizationType") == "JWT" for route in routes.values())


def test_pipeline_migrates_then_deploys_every_service():
    pipeline = load("pipeline")
    # As deployed with the defaults: every web tier on ECS (test_ec2_variant.py covers EC2).
    stages = resolve(pipeline["Resources"]["Pipeline"]["Properties"]["Stages"], pipeline, {})
    assert [stage["Name"] for stage in stages] == ["Source", "Build", "Migrate", "Deploy"]
    migrate = {action["Name"] for action in stages[2]["Actions"]}
    deploy = {action["Name"]: action for action in stages[3]["Actions"]}
    for name in SERVICES:
        assert f"migrate-{name}" in migrate
        assert deploy[f"release-{name}"]["Configuration"]["ProjectName"] == {"Ref": "ReleaseProject"}
    assert set(deploy) == {f"release-{name}" for name in SERVICES}
