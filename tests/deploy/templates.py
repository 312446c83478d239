"""Loading the CloudFormation templates (with cfn-lint's tag-aware loader), a small resolver for
the intrinsics our structural checks need, and the policy checks tests/deploy runs.

Each check returns a list of problems (empty means the policy holds), so a test can both assert
that the real templates pass and that a deliberately broken copy fails."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "deploy" / "cloudformation"
TEMPLATE_NAMES = ("network", "platform", "service", "service-asg", "api-gateway", "pipeline", "edge")
# The EC2 variant's two web tiers (service-asg.yaml), one live and one for the next release.
COLOURS = ("Blue", "Green")


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


NO_VALUE = {"Ref": "AWS::NoValue"}


def resolve(value: Any, template: dict, parameters: dict[str, Any]) -> Any:
    """`value` as deployed with `parameters` (the template's defaults fill in the rest): Fn::If
    takes its branch and list items that come out as AWS::NoValue disappear."""
    if isinstance(value, list):
        return [item for item in (resolve(item, template, parameters) for item in value) if item != NO_VALUE]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if set(value) == {"Ref"} and "Default" in template.get("Parameters", {}).get(value["Ref"], {}):
        return template["Parameters"][value["Ref"]]["Default"]
    if set(value) == {"Fn::If"}:
        name, when_true, when_false = value["Fn::If"]
        return resolve(when_true if condition(template, name, parameters) else when_false, template, parameters)
    if set(value) == {"Fn::And"}:
        return all(resolve(value["Fn::And"], template, parameters))
    if set(value) == {"Fn::Or"}:
        return any(resolve(value["Fn::Or"], template, parameters))
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
    """Queues without a dead-letter queue, and SNS subscriptions without one (a message SNS fails
    to deliver is otherwise dropped after its retries)."""
    queues = resources(template, "AWS::SQS::Queue")
    subscriptions = resources(template, "AWS::SNS::Subscription")
    dead_letter = {
        _getatt_target(item["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        for item in [*queues.values(), *subscriptions.values()]
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
    for name, subscription in subscriptions.items():
        target = _getatt_target(subscription["Properties"].get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        if target not in queues:
            problems.append(f"{name}: a subscription without a dead-letter queue of this template")
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
        elif kind == "AWS::ElastiCache::ServerlessCache":
            # TLS is the only way in and data at rest is always encrypted; ours with the platform key.
            if not properties.get("KmsKeyId"):
                problems.append(f"{name}: serverless cache without KmsKeyId (the platform key)")
        elif kind == "AWS::ElastiCache::ReplicationGroup":
            if not _is_true(properties.get("AtRestEncryptionEnabled")):
                problems.append(f"{name}: cache not encrypted at rest")
            if not _is_true(properties.get("TransitEncryptionEnabled")) or (
                properties.get("TransitEncryptionMode", "required") != "required"
            ):
                problems.append(f"{name}: cache reachable without TLS")
        elif kind == "AWS::ElastiCache::CacheCluster":
            problems.append(f"{name}: a cache cluster cannot encrypt at rest (use a serverless cache)")
    return problems


# --- policy: the shared cache is reached only by the services' tasks -----------------------------

CACHE_PORT = 6379
CACHE_GROUP_EXPORT = {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-CacheSecurityGroupId"}}


def cache_access_problems(platform: dict, service: dict) -> list[str]:
    """Who may open a connection to the platform's shared cache: only the service stack's task
    security group (which the EC2 web instances carry too), only on the cache's port, in every
    service's stack; nothing in the platform itself admits anyone."""
    problems = []
    caches = resources(platform, "AWS::ElastiCache::ServerlessCache")
    if not caches:
        problems.append("platform: no serverless cache")
    for name, cache in caches.items():
        if cache["Properties"].get("SecurityGroupIds") != [{"Ref": "CacheSecurityGroup"}]:
            problems.append(f"{name}: not (only) in CacheSecurityGroup")
    group = platform["Resources"].get("CacheSecurityGroup", {}).get("Properties", {})
    if group.get("SecurityGroupIngress"):
        problems.append("CacheSecurityGroup: admits someone in the platform stack itself")
    for name, rule in resources(platform, "AWS::EC2::SecurityGroupIngress").items():
        if "CacheSecurityGroup" in _references(rule["Properties"].get("GroupId")):
            problems.append(f"{name}: admits someone to the cache in the platform stack")
    rules = {
        name: rule
        for name, rule in resources(service, "AWS::EC2::SecurityGroupIngress").items()
        if rule["Properties"].get("GroupId") == CACHE_GROUP_EXPORT
    }
    if not rules:
        problems.append("service: no rule admits the service's tasks to the cache")
    for name, rule in rules.items():
        properties = rule["Properties"]
        if "Condition" in rule:
            problems.append(f"{name}: conditional, but every service uses the cache")
        sources = {key for key in properties if key.startswith(("Source", "Cidr"))}
        if sources != {"SourceSecurityGroupId"} or properties["SourceSecurityGroupId"] != {"Ref": "TaskSecurityGroup"}:
            problems.append(f"{name}: admits {sorted(sources)}, not only the service's task security group")
        ports = (properties.get("IpProtocol"), properties.get("FromPort"), properties.get("ToPort"))
        if tuple(map(str, ports)) != ("tcp", str(CACHE_PORT), str(CACHE_PORT)):
            problems.append(f"{name}: opens {ports}, not tcp {CACHE_PORT}")
    return problems


# --- policy: IAM ----------------------------------------------------------------------------------

_POLICY_TYPES = ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def _branches(value: Any) -> list[Any]:
    """Both sides of an Fn::If, flattened; lists flattened; AWS::NoValue dropped."""
    if isinstance(value, dict) and "Fn::If" in value:
        return _branches(value["Fn::If"][1]) + _branches(value["Fn::If"][2])
    if isinstance(value, list):
        return [leaf for item in value for leaf in _branches(item)]
    return [] if value == NO_VALUE else [value]


def iam_statements(template: dict) -> Iterator[tuple[str, dict]]:
    """Every statement of every policy, both sides of a statement under Fn::If included (a check
    that skipped conditional statements would pass what it never looked at)."""
    for name, resource in resources(template).items():
        if resource["Type"] not in _POLICY_TYPES:
            continue
        properties = resource.get("Properties", {})
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if "PolicyDocument" in properties:
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in _branches(document["Statement"]):
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


# What a service's roles may name as a resource: its own queue, secrets and ECS services, its log group, its own
# prefix of the media bucket, and the shared things every service uses (events topic, the platform
# key, the image repository, the JWT key secrets).
_OWN_RESOURCES = {
    "Queue",
    "DeadLetterQueue",
    "AppSecret",
    "DatabaseSecret",
    "AppDatabaseSecret",
    "LogGroup",
    # The scheduled credential refresh redeploys the stack's own ECS services.
    "WebService",
    "WorkerService",
    "SchedulerService",
}
# Exports by stack parameter: the platform's shared ones, and the service stack's own (EC2 variant).
_ALLOWED_EXPORTS = {
    "PlatformStackName": {"EventsTopicArn", "KeyArn", "RepositoryArn"},
    "ServiceStackName": {"AppDatabaseSecretArn", "AppSecretArn", "LogGroupName", "RuntimePolicyArn"},
    # A service on the shared instance (database.yaml): its migrate task gets the instance's master
    # (to create the service's database and owner role), through the execution role only.
    "DatabaseStackName": {"MasterSecretArn"},
}
# Parameters naming one resource made outside the stacks: the shared secrets (by full ARN; each
# parameter's AllowedPattern only admits a secret ARN, checked in test_secrets.py) and the SES
# identity notifications sends from.
_ALLOWED_PARAMETERS = {
    "JwtPublicKeysSecretArn",
    "JwtPrivateKeySecretArn",
    "PaymentsWebhookSecretArn",
    "StripeSecretKeySecretArn",
    "StripeWebhookSecretSecretArn",
    "EventSealingKeysSecretArn",
    "SesIdentityArn",
}
# "*" as a resource, only for an action that has no resource of its own, in the named statement.
_STAR_RESOURCE_EXCEPTIONS = {
    ("ecr:GetAuthorizationToken", None): "GetAuthorizationToken has no resource-level permissions",
    # SNS Publish to a phone number (apps/core/sms.py: notifications' texts, users' verification
    # codes) names no ARN, so "*" is the only resource IAM accepts; the statement exists only in
    # those two stacks, and in notifications' its Deny SmsOnlyNoTopics keeps it off every topic.
    ("sns:Publish", "SmsToPhoneNumbers"): "SMS to phone numbers has no resource ARN",
    # The ADOT collector's X-Ray calls (traces, sampling rules): X-Ray has no resource-level
    # permissions for them.
    **{
        (f"xray:{action}", "XRayTraces"): "X-Ray's trace and sampling actions have no resource-level permissions"
        for action in ("PutTraceSegments", "PutTelemetryRecords", "GetSamplingRules", "GetSamplingTargets")
    },
    # ECS Exec (EnableExec): Session Manager's channels have no resource-level permissions.
    **{
        (f"ssmmessages:{action}", "EcsExec"): "ssmmessages has no resource-level permissions"
        for action in ("CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel")
    },
}
_ALLOWED_SUBS = (
    re.compile(r"^\$\{LogGroup\.Arn\}:\*$"),
    re.compile(r":log-group:\$\{Group\}:\*$"),
    # The media bucket, under the service's own prefix only (all-in-one, catalog's: the one prefix
    # its process writes, product images).
    re.compile(r"^\$\{Bucket\}/\$\{ServiceName\}/\*$"),
    re.compile(r"^\$\{Bucket\}/catalog/\*$"),
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
            return resource["Ref"] in _OWN_RESOURCES | _ALLOWED_PARAMETERS
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
    # A literal "*" only where every action has no resource-level permissions (listed above).
    actions = _branches(statement.get("Action"))
    return (
        resource == "*"
        and len(actions) >= 1
        and all(
            any((action, sid) in _STAR_RESOURCE_EXCEPTIONS for sid in (None, statement.get("Sid")))
            for action in actions
        )
    )


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
    # The conditions the extracted resources carry, with those they use and their parameters.
    conditions: dict[str, Any] = {}
    pending = [r["Condition"] for r in chosen.values() if "Condition" in r]
    while pending:
        name = pending.pop()
        if name in conditions:
            continue
        conditions[name] = template["Conditions"][name]
        pending += _condition_names(conditions[name])
        for parameter in _references(conditions[name]) - _PSEUDO:
            parameters[parameter] = template["Parameters"][parameter]
    if conditions:
        extracted["Conditions"] = conditions
    return extracted


def _condition_names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [name for item in value for name in _condition_names(item)]
    if isinstance(value, dict):
        if set(value) == {"Condition"}:
            return [value["Condition"]]
        return [name for item in value.values() for name in _condition_names(item)]
    return []


# --- a service stack as deployed: parameters, containers, listener rules -------------------------


def secret_arn(name: str) -> str:
    """A full Secrets Manager ARN, 6-character suffix included, as `create-secret` returns it."""
    return f"arn:aws:secretsmanager:eu-west-1:210987654321:secret:{name}-AbC123"


SES_IDENTITY_ARN = "arn:aws:ses:eu-west-1:210987654321:identity/shop.example.com"


def service_parameters(service: str, **overrides: Any) -> dict[str, Any]:
    """The parameters deploy/README.md has a service stack deployed with (its own secrets only)."""
    parameters: dict[str, Any] = {
        "ServiceName": service,
        "ShopFrontendUrl": "https://shop.example.com",
        "JwtPublicKeysSecretArn": secret_arn("shopstack/jwt-public-keys"),
    }
    if service == "users":
        parameters["JwtPrivateKeySecretArn"] = secret_arn("shopstack/jwt-private-key")
    if service == "payments":
        parameters["PaymentsWebhookSecretArn"] = secret_arn("shopstack/payments/webhook")
        parameters["StripeSecretKeySecretArn"] = secret_arn("shopstack/payments/stripe-secret-key")
        parameters["StripeWebhookSecretSecretArn"] = secret_arn("shopstack/payments/stripe-webhook-secret")
    if service in {"users", "orders", "notifications"}:
        parameters["EventSealingKeysSecretArn"] = secret_arn("shopstack/event-sealing-keys")
    if service == "notifications":
        parameters["SesIdentityArn"] = SES_IDENTITY_ARN
        parameters["NotificationsFromEmail"] = "ShopStack <shop@shop.example.com>"
    return {**parameters, **overrides}


def task_containers(template: dict, parameters: dict[str, Any]) -> dict[str, dict]:
    """{task definition: its (only) container}, resolved for `parameters`."""
    return {
        name: resolve(task["Properties"]["ContainerDefinitions"][0], template, parameters)
        for name, task in resources(template, "AWS::ECS::TaskDefinition").items()
        if exists(template, task, parameters)
    }


def listener_rules(template: dict, parameters: dict[str, Any]) -> dict[str, dict]:
    """{rule: {"priority", "conditions" (path-pattern value lists)}} that exist for `parameters`."""
    rules = {}
    for name, rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").items():
        if not exists(template, rule, parameters):
            continue
        properties = resolve(rule["Properties"], template, parameters)
        rules[name] = {
            "priority": properties["Priority"],
            "conditions": [
                condition["PathPatternConfig"]["Values"]
                for condition in properties["Conditions"]
                if condition["Field"] == "path-pattern"
            ],
        }
    return rules


def alb_path_matches(pattern: str, path: str) -> bool:
    """An ALB path-pattern value: case sensitive, `*` any characters, `?` exactly one."""
    return (
        re.fullmatch(".*".join(".".join(map(re.escape, part.split("?"))) for part in pattern.split("*")), path)
        is not None
    )


def routed_to(template: dict, path: str, services: Iterable[str], **parameters: Any) -> str | None:
    """The service the shared listener sends `path` to when every service's stack is deployed
    from `template`: the lowest-priority rule that matches wins; None is the listener's 404."""
    matches = []
    for service in services:
        for rule in listener_rules(template, service_parameters(service, **parameters)).values():
            if all(any(alb_path_matches(value, path) for value in values) for values in rule["conditions"]):
                matches.append((int(rule["priority"]), service))
    return min(matches)[1] if matches else None


# --- policy: a container secret is always named by a Secrets Manager ARN ------------------------

# A ValueFrom of `${Secret}` plus ECS's optional `:json-key:version-stage:version-id`.
_VALUE_FROM_SUB = re.compile(r"^\$\{(\w+)\}(:[^:]*:[^:]*:[^:]*)?$")


def secret_arn_parameters(template: dict) -> set[str]:
    """Parameters that can only hold a full Secrets Manager ARN (their AllowedPattern admits one,
    and admits neither a bare name nor the suffix-less partial ARN)."""
    found = set()
    for name, parameter in template.get("Parameters", {}).items():
        pattern = parameter.get("AllowedPattern")
        if not pattern:
            continue
        if (
            re.fullmatch(pattern, secret_arn("shopstack/x-keys"))
            and not re.fullmatch(pattern, "shopstack/x-keys")
            and not re.fullmatch(pattern, secret_arn("shopstack/x-keys").rsplit("-", 1)[0])
        ):
            found.add(name)
    return found


# Exports that hold a Secrets Manager secret's ARN (the stack's own Ref of it), by stack parameter.
_SECRET_ARN_EXPORTS = {("DatabaseStackName", "MasterSecretArn")}


def secret_arn_source(template: dict, value_from: Any) -> str | None:
    """The secret resource or ARN parameter (or secret ARN export) a ValueFrom names, or None when
    it may be anything else (ECS reads a ValueFrom that is not a Secrets Manager ARN as an SSM
    parameter name)."""
    secrets = set(resources(template, "AWS::SecretsManager::Secret")) | secret_arn_parameters(template)
    if isinstance(value_from, dict) and set(value_from) == {"Ref"}:
        name = value_from["Ref"]  # Ref of an AWS::SecretsManager::Secret is its ARN
    elif isinstance(value_from, dict) and set(value_from) == {"Fn::Sub"} and isinstance(value_from["Fn::Sub"], str):
        match = _VALUE_FROM_SUB.match(value_from["Fn::Sub"])
        name = match[1] if match else None
    elif isinstance(value_from, dict) and set(value_from) == {"Fn::Sub"}:
        text, variables = value_from["Fn::Sub"]
        match = _VALUE_FROM_SUB.match(text)
        export = _export(variables.get(match[1])) if match and set(variables) == {match[1]} else None
        return f"{export[0]}-{export[1]}" if export in _SECRET_ARN_EXPORTS else None
    else:
        return None
    return name if name in secrets else None


def secret_value_from_problems(template: dict) -> list[str]:
    problems = []
    for name, task in resources(template, "AWS::ECS::TaskDefinition").items():
        for container in task["Properties"]["ContainerDefinitions"]:
            for secret in _branches(container.get("Secrets", [])):
                if secret_arn_source(template, secret["ValueFrom"]) is None:
                    problems.append(
                        f"{name}: {secret['Name']} ValueFrom {json.dumps(secret['ValueFrom'])} is no secret ARN"
                    )
    return problems


# --- the EC2 variant's environment: its user data's env file and `docker run -e` flags -----------

_ENV_FILE = re.compile(r"cat > /etc/shopstack\.env <<ENV\n(?P<body>.*?)\nENV\n", re.DOTALL)
_DOCKER_ENV_FLAG = re.compile(r" -e (?P<name>[A-Z_]+)=(?P<value>\S+)")


def _env_file_value(line: Any, template: dict, parameters: dict[str, Any]) -> tuple[str, Any] | None:
    """(NAME, value) of one rendered env file line, the value as a container definition would hold
    it: a literal, a resolved parameter, or the CloudFormation expression the line substitutes."""
    if line == "":
        return None  # a service-specific line in another service's stack
    if isinstance(line, str):
        name, _, value = line.partition("=")
        return name, value
    assert set(line) == {"Fn::Sub"}, line
    text, variables = line["Fn::Sub"] if isinstance(line["Fn::Sub"], list) else (line["Fn::Sub"], {})
    name, _, rest = text.partition("=")
    whole = re.fullmatch(r"\$\{([\w:]+)\}", rest)
    if whole and whole[1] in variables:
        return name, variables[whole[1]]
    if whole and not variables:
        return name, resolve({"Ref": whole[1]}, template, parameters)
    return name, {"Fn::Sub": [rest, variables] if variables else rest}


def ec2_environment(template: dict, colour: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """{NAME: value} the EC2 web instances of `colour` start the container with, for `parameters`:
    the env file (its rendered `${Environment}` lines and the secrets the user data reads, as shell
    text) and the `docker run -e` flags (as shell text)."""
    data = template["Resources"][f"LaunchTemplate{colour}"]["Properties"]["LaunchTemplateData"]
    text, variables = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    match = _ENV_FILE.search(text)
    assert match, "no env file in the user data"
    environment: dict[str, Any] = {}
    for line in match["body"].split("\n"):
        if line == "${Environment}":
            joined = resolve(variables["Environment"], template, parameters)
            delimiter, lines = joined["Fn::Join"]
            assert delimiter == "\n"
            pairs = [_env_file_value(item, template, parameters) for item in lines]
        else:
            pairs = [_env_file_value(line, template, parameters)]
        for pair in filter(None, pairs):
            assert pair[0] not in environment, f"{pair[0]} set twice"
            environment[pair[0]] = pair[1]
    for flag in _DOCKER_ENV_FLAG.finditer(text[match.end() :]):
        assert flag["name"] not in environment, f"{flag['name']} set twice"
        environment[flag["name"]] = flag["value"]
    return environment
