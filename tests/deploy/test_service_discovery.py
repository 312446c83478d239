"""Service discovery (#16): orders calls catalog by name through ECS Service Connect in the
platform's Cloud Map namespace (no hand-made DNS record for the load balancer), the security groups
let exactly those tasks talk, and an EC2 web tier on either side falls back to the load balancer."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

import pytest

from config.services import SERVICES
from tests.deploy.templates import NO_VALUE, exists, resolve, resources, service_parameters, task_containers
from tests.deploy.test_ec2_variant import DIFFERS_ON_EC2

NAMESPACE = {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-ServiceNamespaceArn"}}
MESH_GROUP = {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-ServiceConnectSecurityGroupId"}}
THROUGH_LOAD_BALANCER = {
    "Fn::Sub": [
        "https://${Name}",
        {"Name": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-LoadBalancerServerName"}}},
    ]
}


def _service(template: dict, name: str, parameters: dict) -> dict | None:
    resource = template["Resources"][name]
    if not exists(template, resource, parameters):
        return None
    # A property that resolves to AWS::NoValue is not set at all.
    return {
        key: value for key, value in resolve(resource["Properties"], template, parameters).items() if value != NO_VALUE
    }


def _environment(template: dict, task: str, parameters: dict) -> dict:
    return {item["Name"]: item["Value"] for item in task_containers(template, parameters)[task]["Environment"]}


def discovery_problems(template: dict) -> list[str]:
    """Orders' CATALOG_API_URL must name what catalog's web service publishes, on the port its
    container mapping of that name listens on."""
    problems = []
    catalog = _service(template, "WebService", service_parameters("catalog"))
    url = urlsplit(_environment(template, "WebTaskDefinition", service_parameters("orders"))["CATALOG_API_URL"])
    config = catalog.get("ServiceConnectConfiguration") if catalog else None
    if not config or not config.get("Enabled"):
        return ["catalog's web service is not a Service Connect service"]
    (published,) = config["Services"]
    aliases = {(alias["DnsName"], alias["Port"]) for alias in published["ClientAliases"]}
    if (url.hostname, url.port) not in aliases:
        problems.append(f"orders calls {url.hostname}:{url.port}, catalog answers to {sorted(aliases)}")
    mappings = task_containers(template, service_parameters("catalog"))["WebTaskDefinition"]["PortMappings"]
    if published["PortName"] not in {mapping.get("Name") for mapping in mappings}:
        problems.append(f"no port mapping named {published['PortName']}")
    return problems


def test_orders_calls_catalog_by_the_name_catalog_publishes(service):
    assert discovery_problems(service) == []
    catalog = _service(service, "WebService", service_parameters("catalog"))["ServiceConnectConfiguration"]
    assert catalog["Namespace"] == NAMESPACE
    assert catalog["Services"][0]["DiscoveryName"] == "catalog"
    # Catalog accepts the Host its callers send.
    hosts = _environment(service, "WebTaskDefinition", service_parameters("catalog"))["DJANGO_ALLOWED_HOSTS"]
    assert hosts == {"Fn::Sub": "${AllowedHosts},catalog"}


def test_the_check_sees_a_url_catalog_does_not_answer_to(service):
    broken = copy.deepcopy(service)
    config = broken["Resources"]["WebService"]["Properties"]["ServiceConnectConfiguration"]["Fn::If"][1]
    config["Services"][0]["ClientAliases"][0]["Port"] = 80
    assert discovery_problems(broken) == ["orders calls catalog:8000, catalog answers to [('catalog', 80)]"]


@pytest.mark.parametrize("name", list(SERVICES))
def test_only_catalogs_web_and_orders_callers_take_part(service, name):
    parameters = service_parameters(name)
    for resource, member in (
        ("WebService", name in {"catalog", "orders"}),
        ("WorkerService", name == "orders"),
        ("SchedulerService", False),
    ):
        properties = _service(service, resource, parameters)
        config = properties.get("ServiceConnectConfiguration")
        groups = properties["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        assert (config is not None) == member, resource
        assert (MESH_GROUP in groups) == member, resource
        if member:
            assert config["Enabled"] is True and config["Namespace"] == NAMESPACE
        # Only catalog publishes a name; orders is a client.
        assert bool(config and config.get("Services")) == (member and name == "catalog" and resource == "WebService")


def test_only_members_reach_each_other_through_the_mesh_group(service, platform):
    egress = _service(service, "TaskSecurityGroup", service_parameters("orders"))["SecurityGroupEgress"]
    assert {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, "DestinationSecurityGroupId": MESH_GROUP} in [
        {key: rule[key] for key in ("IpProtocol", "FromPort", "ToPort", "DestinationSecurityGroupId") if key in rule}
        for rule in egress
    ]
    mesh = platform["Resources"]["ServiceConnectSecurityGroup"]["Properties"]
    assert mesh["SecurityGroupEgress"] == [
        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": mesh["SecurityGroupEgress"][0]["Description"]}
    ]
    ingress = [rule["Properties"] for rule in resources(platform, "AWS::EC2::SecurityGroupIngress").values()]
    mesh_ingress = [rule for rule in ingress if rule["GroupId"] == {"Ref": "ServiceConnectSecurityGroup"}]
    assert [(rule["FromPort"], rule["ToPort"], rule["SourceSecurityGroupId"]) for rule in mesh_ingress] == [
        (8000, 8000, {"Ref": "ServiceConnectSecurityGroup"})
    ]
    cluster = platform["Resources"]["Cluster"]["Properties"]
    assert cluster["ServiceConnectDefaults"]["Namespace"] == {"Fn::GetAtt": ["ServiceNamespace", "Arn"]}


def test_an_ec2_web_tier_falls_back_to_the_load_balancer(service, asg):
    # Catalog's web tier on EC2 publishes nothing: orders is deployed with CatalogEndpoint=load-balancer.
    assert _service(service, "WebService", service_parameters("catalog", WebPlatform="ec2")) is None
    parameters = service_parameters("orders", CatalogEndpoint="load-balancer")
    assert _environment(service, "WebTaskDefinition", parameters)["CATALOG_API_URL"] == THROUGH_LOAD_BALANCER
    assert "ServiceConnectConfiguration" not in _service(service, "WebService", parameters)
    # Orders' EC2 instances are outside the mesh: always the load balancer (test_ec2_variant.py).
    assert DIFFERS_ON_EC2["CATALOG_API_URL"][0] == THROUGH_LOAD_BALANCER
    # The load balancer admits the orders tasks (and EC2 instances, which carry their group) either way.
    assert exists(service, service["Resources"]["CatalogClientIngress"], service_parameters("orders"))
