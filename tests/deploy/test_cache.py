"""The shared cache (platform.yaml's ElastiCache Serverless) that Django's cache uses in production:
it sits in the private subnets, is encrypted at rest with the platform key and reached over TLS
only, admits only the service tasks and EC2 web instances, and every service, on ECS and on EC2,
gets it as REDIS_URL. Django's Redis cache reaches such a URL over verified TLS, and processes that
share it share the throttles (the per-process LocMemCache multiplied every limit by tasks x
workers). Each template check is also shown to catch a break."""

from __future__ import annotations

import copy
import datetime
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from config.services import SERVICES
from tests.deploy.templates import (
    CACHE_GROUP_EXPORT,
    CACHE_PORT,
    COLOURS,
    ROOT,
    cache_access_problems,
    ec2_environment,
    load,
    resolve,
    resources,
    service_parameters,
    task_containers,
    unencrypted_resources,
)

TASKS = {"WebTaskDefinition", "WorkerTaskDefinition", "SchedulerTaskDefinition", "MigrateTaskDefinition"}


def platform_import(export: str) -> dict:
    return {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-" + export}}


# REDIS_URL as the stacks render it (deploy/blocks/environment.py): TLS to the platform cache's endpoint, db 0.
CACHE_URL = {
    "Fn::Sub": [
        "rediss://${Address}:${Port}/0",
        {"Address": platform_import("CacheAddress"), "Port": platform_import("CachePort")},
    ]
}


# --- the cache ------------------------------------------------------------------------------------


def test_the_platform_runs_one_serverless_cache_in_the_private_subnets_and_exports_its_endpoint(platform):
    caches = resources(platform, "AWS::ElastiCache::ServerlessCache")
    assert list(caches) == ["Cache"]
    properties = caches["Cache"]["Properties"]
    assert properties["Engine"] == "valkey"
    assert properties["SubnetIds"] == {
        "Fn::Split": [",", {"Fn::ImportValue": {"Fn::Sub": "${NetworkStackName}-PrivateSubnets"}}]
    }
    for output, attribute in (("CacheAddress", "Endpoint.Address"), ("CachePort", "Endpoint.Port")):
        assert platform["Outputs"][output]["Value"] == {"Fn::GetAtt": ["Cache", attribute]}
        assert platform["Outputs"][output]["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + output}
    assert platform["Outputs"]["CacheSecurityGroupId"]["Value"] == {"Ref": "CacheSecurityGroup"}


def test_the_cache_is_encrypted_at_rest_with_the_platform_key_and_in_transit(platform):
    cache = platform["Resources"]["Cache"]
    assert cache["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    # In transit: a serverless cache has no plaintext endpoint (TLS only), and REDIS_URL says rediss.
    assert cache["Type"] == "AWS::ElastiCache::ServerlessCache"
    assert CACHE_URL["Fn::Sub"][0].startswith("rediss://")
    assert unencrypted_resources(platform) == []


def test_a_cache_unencrypted_at_rest_or_in_transit_fails_the_check(platform):
    broken = copy.deepcopy(platform)
    del broken["Resources"]["Cache"]["Properties"]["KmsKeyId"]
    assert unencrypted_resources(broken) == ["Cache: serverless cache without KmsKeyId (the platform key)"]
    # A node-based cache instead: TLS and at-rest encryption are settings there, both required.
    broken["Resources"]["Cache"] = {
        "Type": "AWS::ElastiCache::ReplicationGroup",
        "Properties": {"AtRestEncryptionEnabled": False, "TransitEncryptionEnabled": True},
    }
    assert unencrypted_resources(broken) == ["Cache: cache not encrypted at rest"]
    broken["Resources"]["Cache"]["Properties"].update(AtRestEncryptionEnabled=True, TransitEncryptionMode="preferred")
    assert unencrypted_resources(broken) == ["Cache: cache reachable without TLS"]


# --- who reaches it -------------------------------------------------------------------------------


def test_only_the_service_tasks_reach_the_cache(platform, service):
    assert cache_access_problems(platform, service) == []


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_stack_admits_its_tasks_to_the_cache_and_lets_them_connect(service, name):
    parameters = service_parameters(name)
    ingress = resolve(service["Resources"]["CacheClientIngress"]["Properties"], service, parameters)
    assert "Condition" not in service["Resources"]["CacheClientIngress"]
    assert {key: ingress[key] for key in ("GroupId", "IpProtocol", "FromPort", "ToPort", "SourceSecurityGroupId")} == {
        "GroupId": CACHE_GROUP_EXPORT,
        "IpProtocol": "tcp",
        "FromPort": CACHE_PORT,
        "ToPort": CACHE_PORT,
        "SourceSecurityGroupId": {"Ref": "TaskSecurityGroup"},
    }
    egress = service["Resources"]["TaskSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    to_cache = [rule for rule in egress if rule.get("DestinationSecurityGroupId") == CACHE_GROUP_EXPORT]
    assert [(rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) for rule in to_cache] == [
        ("tcp", CACHE_PORT, CACHE_PORT)
    ]


def test_the_ec2_web_instances_reach_it_as_their_service_tasks(asg, service):
    # The instances carry the service stack's task security group, which the cache admits; the
    # EC2 stack opens nothing of its own.
    for colour in COLOURS:
        data = asg["Resources"][f"LaunchTemplate{colour}"]["Properties"]["LaunchTemplateData"]
        assert data["SecurityGroupIds"] == [{"Fn::ImportValue": {"Fn::Sub": "${ServiceStackName}-TaskSecurityGroupId"}}]
    assert service["Outputs"]["TaskSecurityGroupId"]["Value"] == {"Ref": "TaskSecurityGroup"}
    assert not resources(asg, "AWS::EC2::SecurityGroupIngress")


def _widen(platform: dict, service: dict, how: str) -> None:
    rule = service["Resources"]["CacheClientIngress"]
    if how == "from-the-vpc":
        del rule["Properties"]["SourceSecurityGroupId"]
        rule["Properties"]["CidrIp"] = {"Fn::ImportValue": {"Fn::Sub": "${NetworkStackName}-VpcCidr"}}
    elif how == "more-ports":
        rule["Properties"]["ToPort"] = 6380
    elif how == "one-service-only":
        rule["Condition"] = "IsOrders"
    elif how == "no-rule":
        del service["Resources"]["CacheClientIngress"]
    elif how == "platform-inline":
        platform["Resources"]["CacheSecurityGroup"]["Properties"]["SecurityGroupIngress"] = [
            {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "CidrIp": "10.0.0.0/8"}
        ]
    elif how == "platform-rule":
        platform["Resources"]["OpenCache"] = {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {"GroupId": {"Fn::GetAtt": ["CacheSecurityGroup", "GroupId"]}, "CidrIp": "0.0.0.0/0"},
        }
    elif how == "another-group":
        platform["Resources"]["Cache"]["Properties"]["SecurityGroupIds"].append({"Ref": "LoadBalancerSecurityGroup"})


@pytest.mark.parametrize(
    "how",
    ["from-the-vpc", "more-ports", "one-service-only", "no-rule", "platform-inline", "platform-rule", "another-group"],
)
def test_a_wider_or_missing_door_into_the_cache_fails_the_check(how):
    platform, service = load("platform"), load("service")
    _widen(platform, service, how)
    assert len(cache_access_problems(platform, service)) == 1


# --- every service gets it ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_task_and_ec2_web_instance_of_every_service_gets_the_cache(service, asg, name):
    parameters = service_parameters(name)
    containers = task_containers(service, parameters)
    assert set(containers) == TASKS
    for task, container in containers.items():
        environment = {item["Name"]: item["Value"] for item in container["Environment"]}
        assert environment.get("REDIS_URL") == CACHE_URL, (name, task)
    for colour in COLOURS:
        assert ec2_environment(asg, colour, parameters).get("REDIS_URL") == CACHE_URL, (name, colour)


def test_the_check_sees_a_service_without_the_cache(service, asg):
    broken_service, broken_asg = copy.deepcopy(service), copy.deepcopy(asg)
    container = broken_service["Resources"]["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["Environment"] = [item for item in container["Environment"] if item.get("Name") != "REDIS_URL"]
    lines = broken_asg["Resources"]["LaunchTemplateGreen"]["Properties"]["LaunchTemplateData"]["UserData"][
        "Fn::Base64"
    ]["Fn::Sub"][1]["Environment"]["Fn::Join"][1]
    lines[:] = [line for line in lines if "REDIS_URL" not in str(line)]
    parameters = service_parameters("users")
    worker = task_containers(broken_service, parameters)["WorkerTaskDefinition"]
    assert "REDIS_URL" not in {item["Name"] for item in worker["Environment"]}
    assert "REDIS_URL" not in ec2_environment(broken_asg, "Green", parameters)
    assert ec2_environment(broken_asg, "Blue", parameters)["REDIS_URL"] == CACHE_URL


# --- Django's cache over TLS, shared between processes ---------------------------------------------


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for `localhost` it signed: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ShopStack test cache CA")])

    def builder(subject: x509.Name, public_key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    ca = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), key.public_key())
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture(scope="module")
def tls_cache(tmp_path_factory) -> tuple[int, Path]:
    """A Redis server on loopback that speaks TLS only, like the serverless cache: (port, its CA)."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    directory = tmp_path_factory.mktemp("cache")
    ca, certificate, key = _write_certificates(directory)
    port = _free_port()
    # Arguments, not a config file; `--save ""` keeps nothing on disk.
    command = [server, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "-::1"]
    command += ["--tls-cert-file", str(certificate), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca)]
    command += ["--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    with (directory / "redis.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: {(directory / 'redis.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield port, ca
    finally:
        process.terminate()
        process.wait(timeout=10)


# One login attempt, in a process of its own, through DRF's scoped throttle and Django's cache.
_LOGIN_ATTEMPT = """
import django
django.setup()
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from apps.core.api.throttles import ScopedRateThrottle

class Login:
    throttle_scope = "login"

request = Request(APIRequestFactory().post("/api/v1/users/login/", REMOTE_ADDR="203.0.113.7"))
print("allowed" if ScopedRateThrottle().allow_request(request, Login()) else "refused")
"""


def _login_attempt(port: int, ca: Path | None) -> subprocess.CompletedProcess:
    # The settings every environment shares (production's own checks refuse a local cache); the
    # URL has the deployed shape, and the CA stands in for the system store the image trusts.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SERVICE": "users",
        "REDIS_URL": f"rediss://localhost:{port}/0",
        "THROTTLE_LOGIN": "2/minute",
    }
    if ca is not None:
        env["SSL_CERT_FILE"] = str(ca)
    return subprocess.run(
        [sys.executable, "-c", _LOGIN_ATTEMPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_processes_sharing_the_cache_over_tls_share_the_login_throttle(tls_cache):
    port, ca = tls_cache
    answers = []
    for _ in range(3):
        result = _login_attempt(port, ca)
        assert result.returncode == 0, result.stderr[-2000:]
        answers.append(result.stdout.strip())
    # 2/minute across three processes: the third is refused, as one process would refuse it.
    assert answers == ["allowed", "allowed", "refused"]


def test_the_cache_certificate_is_verified(tls_cache):
    port, _ = tls_cache
    result = _login_attempt(port, None)  # a CA the system store does not know

    assert result.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate verify failed" in result.stderr
