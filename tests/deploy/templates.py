"""Loading the CloudFormation templates (with cfn-lint's tag-aware loader), a small resolver for
the intrinsics our structural checks need, and the policy checks tests/deploy runs.

Each check returns a list of problems (empty means the policy holds), so a test can both assert
that the real templates pass and that a deliberately broken copy fails."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "deploy" / "cloudformation"
TEMPLATE_NAMES = ("network", "platform", "service", "service-asg", "api-gateway", "pipeline")


def load(name: str) -> dict:
    template, problems = decode(str(TEMPLATES / f"{name}.yaml"))
    assert not problems, problems
    # Plain dicts/lists/strings: the templates are mutated by tests and sent to moto as JSON.
    return json.loads(json.dumps(template))


def resources(template: dict, resource_type: str | None = None) -> dict[str, dict]:
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource_type is None or resource["Type"] == resource_type
    }


# --- a resolver for Ref (parameters), Fn::FindInMap, Fn::Equals, Fn::Not and Conditions ---------


def resolve(value: Any, template: dict, parameters: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [resolve(item, template, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if set(value) == {"Fn::FindInMap"}:
        mapping, first, second = resolve(value["Fn::FindInMap"], template, parameters)
        return template["Mappings"][mapping][first][second]
    if set(value) == {"Fn::Equals"}:
        left, right = resolve(value["Fn::Equals"], template, parameters)
        return str(left) == str(right)
    if set(value) == {"Fn::Not"}:
        return not resolve(value["Fn::Not"][0], template, parameters)
    if set(value) == {"Condition"}:
        return condition(template, value["Condition"], parameters)
    return {key: resolve(item, template, parameters) for key, item in value.items()}


def condition(template: dict, name: str, parameters: dict[str, Any]) -> bool:
    return bool(resolve(template["Conditions"][name], template, parameters))


def exists(template: dict, resource: dict, parameters: dict[str, Any]) -> bool:
    return "Condition" not in resource or condition(template, resource["Condition"], parameters)


# --- policy: every queue that is not a dead-letter queue redrives to one -------------------------


def _getatt_target(value: Any) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        target = target.split(".") if isinstance(target, str) else target
        return target[0] if target[1] == "Arn" else None
    return None


def unredriven_queues(template: dict) -> list[str]:
    queues = resources(template, "AWS::SQS::Queue")
    dead_letter = {
        _getatt_target(queue["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        for queue in queues.values()
    }
    problems = []
    for name, queue in queues.items():
        if name in dead_letter:
            continue
        policy = queue["Properties"].get("RedrivePolicy")
        if not policy:
            problems.append(f"{name}: no RedrivePolicy (and it is no queue's dead-letter queue)")
            continue
        target = _getatt_target(policy.get("deadLetterTargetArn"))
        if target not in queues:
            problems.append(f"{name}: deadLetterTargetArn is not a queue of this template")
        if not policy.get("maxReceiveCount"):
            problems.append(f"{name}: RedrivePolicy without maxReceiveCount")
    return problems


# --- policy: data at rest is encrypted ------------------------------------------------------------


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def unencrypted_resources(template: dict) -> list[str]:
    problems = []
    for name, resource in resources(template).items():
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::SQS::Queue":
            if not (_is_true(properties.get("SqsManagedSseEnabled")) or properties.get("KmsMasterKeyId")):
                problems.append(f"{name}: queue not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)")
        elif kind == "AWS::SNS::Topic":
            if not properties.get("KmsMasterKeyId"):
                problems.append(f"{name}: topic without KmsMasterKeyId")
        elif kind == "AWS::S3::Bucket":
            rules = properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            if not any(rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules):
                problems.append(f"{name}: bucket without default encryption")
        elif kind == "AWS::RDS::DBInstance":
            if not _is_true(properties.get("StorageEncrypted")):
                problems.append(f"{name}: database storage not encrypted")
        elif kind == "AWS::EC2::LaunchTemplate":
            for device in properties["LaunchTemplateData"].get("BlockDeviceMappings", []):
                if not _is_true(device.get("Ebs", {}).get("Encrypted")):
                    problems.append(f"{name}: unencrypted EBS volume")
    return problems


# --- policy: IAM ----------------------------------------------------------------------------------

_POLICY_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def _branches(value: Any) -> list[Any]:
    """Both sides of an Fn::If, flattened; lists flattened."""
    if isinstance(value, dict) and "Fn::If" in value:
        return _branches(value["Fn::If"][1]) + _branches(value["Fn::If"][2])
    if isinstance(value, list):
        return [leaf for item in value for leaf in _branches(item)]
    return [value]


def iam_statements(template: dict) -> Iterator[tuple[str, dict]]:
    for name, resource in resources(template).items():
        if resource["Type"] not in _POLICY_TYPES:
            continue
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                yield name, statement


def wildcard_statements(template: dict) -> list[str]:
    problems = []
    for name, statement in iam_statements(template):
        if statement.get("Effect") != "Allow":
            continue
        actions = _branches(statement.get("Action", []))
        targets = _branches(statement.get("Resource", []))
        if "*" in actions and "*" in targets:
            problems.append(f"{name}: statement {statement.get('Sid', '?')} allows Action * on Resource *")
    return problems


# What a service's roles may name as a resource: its own queue and secrets, its log group, its own
# prefix of the media bucket, and the shared things every service uses (events topic, the platform
# key, the image repository, the JWT key secrets).
_OWN_RESOURCES = {"Queue", "DeadLetterQueue", "AppSecret", "DatabaseSecret", "LogGroup"}
# Exports by stack parameter: the platform's shared ones, and the service stack's own (EC2 variant).
_ALLOWED_EXPORTS = {
    "PlatformStackName": {"EventsTopicArn", "KeyArn", "RepositoryArn"},
    "ServiceStackName": {"DatabaseSecretArn", "AppSecretArn", "LogGroupName", "RuntimePolicyArn"},
}
_ALLOWED_SUBS = (
    re.compile(r":secret:\$\{JwtPublicKeysSecretName\}-\?{6}$"),
    re.compile(r":secret:\$\{JwtPrivateKeySecretName\}-\?{6}$"),
    re.compile(r"^\$\{LogGroup\.Arn\}:\*$"),
    re.compile(r":log-group:\$\{Group\}:\*$"),
    # The media bucket, under the service's own prefix only.
    re.compile(r"^\$\{Bucket\}/\$\{ServiceName\}/\*$"),
)


def _export(value: Any) -> tuple[str, str] | None:
    """("PlatformStackName", "KeyArn") for {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-KeyArn"}}."""
    if isinstance(value, dict) and set(value) == {"Fn::ImportValue"}:
        name = value["Fn::ImportValue"]
        text = name.get("Fn::Sub") if isinstance(name, dict) else name
        match = re.fullmatch(r"\$\{(\w+)\}-(\w+)", text) if isinstance(text, str) else None
        return (match[1], match[2]) if match else None
    return None


def _resource_is_own(resource: Any, statement: dict) -> bool:
    if isinstance(resource, dict):
        if set(resource) == {"Ref"}:
            return resource["Ref"] in _OWN_RESOURCES
        if set(resource) == {"Fn::GetAtt"}:
            return _getatt_target(resource) in _OWN_RESOURCES
        export = _export(resource)
        if export is not None:
            stack, name = export
            if name in _ALLOWED_EXPORTS.get(stack, set()):
                return True
            # The whole media bucket only for listing, and only under the service's own prefix.
            condition = json.dumps(statement.get("Condition", {}))
            return name == "MediaBucketArn" and "s3:prefix" in condition and "${ServiceName}/" in condition
        if set(resource) == {"Fn::Sub"}:
            text, variables = (
                resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], list) else (resource["Fn::Sub"], {})
            )
            for variable in variables.values():
                export = _export(variable)
                if export is None or not (
                    export[1] in _ALLOWED_EXPORTS.get(export[0], set()) or export[1] == "MediaBucketArn"
                ):
                    return False
            return any(pattern.search(text) for pattern in _ALLOWED_SUBS)
        return False
    # A literal "*" only where the action has no resource-level permissions.
    return resource == "*" and _branches(statement.get("Action")) == ["ecr:GetAuthorizationToken"]


def foreign_role_resources(template: dict) -> list[str]:
    """Resources a service's roles name that are not its own (service.yaml / service-asg.yaml)."""
    problems = []
    for name, statement in iam_statements(template):
        if statement.get("Effect") != "Allow" or "Principal" in statement:
            continue
        for resource in _branches(statement.get("Resource", [])):
            if not _resource_is_own(resource, statement):
                problems.append(f"{name}: statement {statement.get('Sid', '?')} names {json.dumps(resource)}")
    return problems


# --- a moto-deployable extract of a template ----------------------------------------------------

_PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"}


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(_getatt_target(item) or (item[0] if isinstance(item, list) else item.split(".")[0]))
            elif key == "Fn::Sub":
                text, variables = (item[0], item[1]) if isinstance(item, list) else (item, {})
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
                found |= _references(variables)
            else:
                found |= _references(item)
    return found


def extract(template: dict, resource_types: set[str]) -> dict:
    """Only the resources of `resource_types`, with the parameters and mappings they use. Fails if
    an extracted resource refers to anything left out (moto would otherwise fail obscurely)."""
    chosen = {name: copy.deepcopy(r) for name, r in resources(template).items() if r["Type"] in resource_types}
    for resource in chosen.values():
        resource.pop("Metadata", None)
    referenced = _references(chosen) - _PSEUDO
    parameters = {name: template["Parameters"][name] for name in referenced if name in template.get("Parameters", {})}
    missing = referenced - set(parameters) - set(chosen)
    assert not missing, f"extracted resources refer to resources left out: {sorted(missing)}"
    extracted = {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters, "Resources": chosen}
    if "Mappings" in template:
        extracted["Mappings"] = template["Mappings"]
    return extracted
