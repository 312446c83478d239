"""The shared load balancer sends every path a service serves to that service: above all the users
service's key discovery documents, which API Gateway's JWT authorizer fetches through the gateway
and this load balancer, and catalog's API, which orders calls. And the issuer those documents name
is the one value the authorizer, the token signer and every verifier use."""

from __future__ import annotations

import re
import uuid
from importlib import import_module
from urllib.parse import urlsplit

import jwt
import pytest
from django.test import Client
from django.urls import URLPattern
from django.urls import resolve as resolve_url

from apps.catalog.contracts.client import VARIANTS_PATH
from apps.users.tokens import access_token_issue
from config.services import SERVICES
from tests.deploy.templates import (
    CACHE_GROUP_EXPORT,
    alb_path_matches,
    ec2_environment,
    exists,
    listener_rules,
    load,
    resolve,
    resources,
    routed_to,
    service_parameters,
    task_containers,
)

ISSUER = "https://api.shop.example.com"
PLATFORM_EXPORT = {"JwtIssuer", "JwtAudience", "LoadBalancerServerName"}
# ALB quotas: match evaluations (values) per condition and per rule.
MAX_VALUES_PER_CONDITION = 3
MAX_VALUES_PER_RULE = 5


def platform_import(export: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-" + export}}


def _root_paths(service: str) -> list[str]:
    """A concrete path for each URL the service serves at the site root (`root_urlpatterns`)."""
    patterns: list[URLPattern] = getattr(import_module(f"{SERVICES[service].app}.api.urls"), "root_urlpatterns", [])
    return ["/" + re.sub(r"<[^>]+>", "x", str(pattern.pattern)) for pattern in patterns]


WEB_TEMPLATES = ["service", "service-asg"]  # the web tier on ECS, or on EC2 Auto Scaling


@pytest.fixture(scope="module", params=WEB_TEMPLATES)
def web_template(request) -> dict:
    return load(request.param)


def test_users_serves_its_key_discovery_at_the_root():
    assert sorted(_root_paths("users")) == ["/.well-known/jwks.json", "/.well-known/openid-configuration"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_path_a_service_serves_reaches_it(web_template, service):
    paths = [f"/{SERVICES[service].url_prefix}x/", f"/admin/{service}/", f"/static/{service}/x.css"]
    for path in paths + _root_paths(service):
        assert routed_to(web_template, path, SERVICES) == service, path


@pytest.mark.parametrize("name", WEB_TEMPLATES)
def test_without_the_root_rule_key_discovery_gets_the_listeners_404(name):
    broken = load(name)
    del broken["Resources"]["WebRootListenerRule"]
    assert routed_to(broken, "/.well-known/jwks.json", SERVICES) is None


def test_listener_rules_fit_the_load_balancer_quotas(web_template):
    priorities = []
    for service in SERVICES:
        for name, rule in listener_rules(web_template, service_parameters(service)).items():
            assert all(len(values) <= MAX_VALUES_PER_CONDITION for values in rule["conditions"]), (service, name)
            assert sum(map(len, rule["conditions"])) <= MAX_VALUES_PER_RULE, (service, name)
            priorities.append(int(rule["priority"]))
    assert len(priorities) == len(set(priorities)), sorted(priorities)


def test_the_gateway_lets_key_discovery_through_to_users():
    gateway = load("api-gateway")
    routes = {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in resources(gateway, "AWS::ApiGatewayV2::Route").values()
    }
    route = routes["GET /.well-known/{proxy+}"]
    assert route["AuthorizationType"] == "NONE"
    assert route["Target"] == {"Fn::Sub": "integrations/${AlbIntegration}"}
    for path in _root_paths("users"):
        assert alb_path_matches("/.well-known/*", path)  # the route's {proxy+} under /.well-known/
        assert routed_to(load("service"), path, SERVICES) == "users"


def test_the_stripe_webhook_endpoint_reaches_payments_without_a_token(web_template):
    # The endpoint URL deploy/README.md has Stripe call: Stripe signs it and sends no JWT.
    path = "/api/v1/payments/webhooks/stripe/"
    match = resolve_url(path)
    assert (match.url_name, match.kwargs) == ("webhook", {"provider": "stripe"})
    gateway = load("api-gateway")
    (route,) = (
        route["Properties"]
        for route in resources(gateway, "AWS::ApiGatewayV2::Route").values()
        if route["Properties"]["RouteKey"] == "ANY /api/v1/payments/{proxy+}"
    )
    assert route["AuthorizationType"] == "NONE"
    assert routed_to(web_template, path, SERVICES) == "payments"


def test_the_authorizers_discovery_urls_reach_users(settings):
    """API Gateway fetches {issuer}/.well-known/openid-configuration, then the jwks_uri it names."""
    pattern = load("platform")["Parameters"]["JwtIssuer"]["AllowedPattern"]
    assert re.fullmatch(pattern, ISSUER)
    # With a path (or a trailing slash) the documents would sit under a prefix no rule sends to
    # users, and `iss` would not equal the configured issuer character for character.
    for wrong in ("https://api.shop.example.com/users", "https://api.shop.example.com/", "http://api.shop.example.com"):
        assert not re.fullmatch(pattern, wrong), wrong
    settings.JWT_ISSUER = ISSUER
    document = Client().get("/.well-known/openid-configuration").json()
    assert document["issuer"] == ISSUER
    for url in (f"{ISSUER}/.well-known/openid-configuration", document["jwks_uri"]):
        assert url.startswith(ISSUER + "/")
        assert routed_to(load("service"), urlsplit(url).path, SERVICES) == "users", url


def test_users_signs_the_issuer_the_authorizer_checks(settings):
    settings.JWT_ISSUER, settings.JWT_AUDIENCE = ISSUER, "shopstack"
    token = access_token_issue(customer_id=uuid.uuid4(), email="ada@example.com").token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == (ISSUER, "shopstack")


def test_one_issuer_and_audience_for_signer_verifiers_and_gateway():
    platform, service, asg, gateway = (load(name) for name in ("platform", "service", "service-asg", "api-gateway"))
    for export in PLATFORM_EXPORT:
        output = platform["Outputs"][export]
        assert output["Value"] == {"Ref": export}
        assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + export}
    # No stack takes its own copy of the values.
    for template in (service, asg, gateway):
        assert not PLATFORM_EXPORT & set(template["Parameters"])
    authorizer = gateway["Resources"]["JwtAuthorizer"]["Properties"]["JwtConfiguration"]
    assert authorizer == {"Issuer": platform_import("JwtIssuer"), "Audience": [platform_import("JwtAudience")]}
    for name in SERVICES:
        for container in task_containers(service, service_parameters(name)).values():
            env = {item["Name"]: item["Value"] for item in container["Environment"]}
            assert env["JWT_ISSUER"] == platform_import("JwtIssuer")
            assert env["JWT_AUDIENCE"] == platform_import("JwtAudience")
    for colour in ("Blue", "Green"):
        for name in SERVICES:
            env = ec2_environment(asg, colour, service_parameters(name))
            assert env["JWT_ISSUER"] == platform_import("JwtIssuer")
            assert env["JWT_AUDIENCE"] == platform_import("JwtAudience")


# --- orders -> catalog ----------------------------------------------------------------------------


def test_orders_calls_catalog_through_the_load_balancer_where_service_connect_cannot_reach():
    # Orders' ECS tasks call catalog by its Service Connect name (test_service_discovery.py); with
    # catalog's web tier on EC2 (CatalogEndpoint=load-balancer), and always from orders' EC2 web
    # instances, they call the name on the load balancer's certificate.
    service = load("service")
    url = {"Fn::Sub": ["https://${Name}", {"Name": platform_import("LoadBalancerServerName")}]}
    for name in SERVICES:
        for container in task_containers(service, service_parameters(name, CatalogEndpoint="load-balancer")).values():
            env = {item["Name"]: item["Value"] for item in container["Environment"]}
            assert env.get("CATALOG_API_URL") == (url if name == "orders" else None)
    # The same name API Gateway verifies over TLS; catalog's API path is catalog's on that listener.
    tls = load("api-gateway")["Resources"]["AlbIntegration"]["Properties"]["TlsConfig"]
    assert tls == {"ServerNameToVerify": platform_import("LoadBalancerServerName")}
    assert routed_to(service, VARIANTS_PATH, SERVICES) == "catalog"
    asg = load("service-asg")
    for name in SERVICES:
        for colour in ("Blue", "Green"):
            env = ec2_environment(asg, colour, service_parameters(name))
            assert env.get("CATALOG_API_URL") == (url if name == "orders" else None)


@pytest.mark.parametrize("name", list(SERVICES))
def test_only_orders_tasks_may_open_the_load_balancer(name):
    service = load("service")
    parameters = service_parameters(name)
    # Rules into the load balancer's group (the shared cache's, test_cache.py, admits every service).
    ingress = [
        resolve(rule["Properties"], service, parameters)
        for rule in resources(service, "AWS::EC2::SecurityGroupIngress").values()
        if exists(service, rule, parameters) and rule["Properties"]["GroupId"] != CACHE_GROUP_EXPORT
    ]
    if name != "orders":
        assert ingress == []
        return
    assert ingress == [
        {
            "GroupId": platform_import("LoadBalancerSecurityGroupId"),
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": {"Ref": "TaskSecurityGroup"},
            "Description": "HTTPS from the orders tasks to catalog's API (CATALOG_API_URL)",
        }
    ]


def test_every_service_links_to_the_shop_front_end():
    service = load("service")
    for name in SERVICES:
        for container in task_containers(service, service_parameters(name)).values():
            env = {item["Name"]: item["Value"] for item in container["Environment"]}
            assert env["SHOP_FRONTEND_URL"] == "https://shop.example.com"
    asg = load("service-asg")
    for name in SERVICES:
        for colour in ("Blue", "Green"):
            assert (
                ec2_environment(asg, colour, service_parameters(name))["SHOP_FRONTEND_URL"]
                == "https://shop.example.com"
            )


# --- the admins are not on the internet ---------------------------------------------------------------


def gateway_paths(template: dict) -> list[re.Pattern]:
    """A regex per route of the HTTP API ({proxy+}: one or more segments, {name}: one)."""
    patterns = []
    for route in resources(template, "AWS::ApiGatewayV2::Route").values():
        path = route["Properties"]["RouteKey"].split(" ", 1)[1]
        regex = re.escape(path).replace(r"\{proxy\+\}", ".+")
        patterns.append(re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", regex) + "$"))
    return patterns


@pytest.mark.parametrize("service", list(SERVICES))
def test_the_public_gateway_routes_no_admin(service):
    gateway = load("api-gateway")
    assert gateway_paths(gateway)  # the check sees the routes
    for path in (f"/admin/{service}/", f"/admin/{service}/login/", "/admin/"):
        assert not any(pattern.match(path) for pattern in gateway_paths(gateway)), path
    # ... while the API still is.
    assert any(pattern.match(f"/{SERVICES[service].url_prefix}x/") for pattern in gateway_paths(gateway))


def test_a_gateway_admin_route_fails_the_check():
    gateway = load("api-gateway")
    gateway["Resources"]["AdminRoute"] = {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "RouteKey": "ANY /admin/{proxy+}"},
    }
    assert any(pattern.match("/admin/users/") for pattern in gateway_paths(gateway))


def test_staff_reach_the_admins_only_from_the_admin_network():
    platform = load("platform")
    rule = platform["Resources"]["LoadBalancerIngressForAdmins"]
    assert rule["Condition"] == "HasAdminAccess"
    assert rule["Properties"]["CidrIp"] == {"Ref": "AdminAccessCidr"}
    assert (rule["Properties"]["FromPort"], rule["Properties"]["ToPort"]) == (443, 443)
    assert platform["Parameters"]["AdminAccessCidr"]["Default"] == ""
    assert not exists(platform, rule, {})  # by default no one outside the VPC link
