"""The database's PostgreSQL log (#16, 13): RDS exports it to /aws/rds/instance/<instance>/postgresql;
the stack names the instance and creates that group first, with a retention and the platform key."""

from __future__ import annotations

import copy

import pytest

from tests.deploy.templates import resolve, service_parameters

KEY = {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-KeyArn"}}


def _substitute(value: dict, variables: dict[str, str]) -> str:
    text, names = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], {})
    for name, item in {**variables, **names}.items():
        text = text.replace("${" + name + "}", item if isinstance(item, str) else _substitute(item, variables))
    assert "${" not in text, text
    return text


def log_group_problems(template: dict, parameters: dict[str, str]) -> list[str]:
    """The group the stack creates must be the one RDS writes to, kept and encrypted."""
    variables = {"ResourcePrefix": parameters.get("ResourcePrefix", ""), "ServiceName": parameters["ServiceName"]}
    database = resolve(template["Resources"]["Database"], template, parameters)
    group = resolve(template["Resources"]["DatabaseLogGroup"]["Properties"], template, parameters)
    identifier = database["Properties"]["DBInstanceIdentifier"]
    identifier = identifier if isinstance(identifier, str) else _substitute(identifier, variables)
    name = _substitute(group["LogGroupName"], variables)
    problems = []
    if "postgresql" in database["Properties"]["EnableCloudwatchLogsExports"] and (
        name != f"/aws/rds/instance/{identifier}/postgresql"
    ):
        problems.append(f"RDS writes to /aws/rds/instance/{identifier}/postgresql, the stack creates {name}")
    if "DatabaseLogGroup" not in database.get("DependsOn", []) and database.get("DependsOn") != "DatabaseLogGroup":
        problems.append("the instance may export before the group exists")
    if group.get("RetentionInDays") != template["Parameters"]["LogRetentionDays"]["Default"]:
        problems.append("no retention")
    if group.get("KmsKeyId") != KEY:
        problems.append("not encrypted with the platform key")
    return problems


@pytest.mark.parametrize(
    "parameters",
    [
        {"ServiceName": "orders"},
        {"ServiceName": "catalog", "ResourcePrefix": "staging-"},
        {"ServiceName": "users", "DbInstanceIdentifier": "shopstack-users-dbinstance-1a2b3c4d5e6f"},
    ],
    ids=["default", "prefixed", "existing-instance"],
)
def test_the_stack_creates_the_log_group_rds_writes_to(service, parameters):
    parameters = dict(parameters)
    name = parameters.pop("ServiceName")
    assert log_group_problems(service, service_parameters(name, **parameters)) == []


def test_the_check_sees_a_group_rds_does_not_write_to(service):
    broken = copy.deepcopy(service)
    broken["Resources"]["Database"]["Properties"]["DBInstanceIdentifier"] = "something-else"
    assert log_group_problems(broken, service_parameters("orders")) == [
        "RDS writes to /aws/rds/instance/something-else/postgresql, the stack creates"
        " /aws/rds/instance/shopstack-orders/postgresql"
    ]
