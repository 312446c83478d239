"""Cost profiles (deploy/profiles/*.json): parameter overrides per stack that every template accepts,
with Fargate sizes Fargate accepts, and whose service stacks still pass the policy checks."""

from __future__ import annotations

import json
import re

import pytest

from config.services import SERVICES
from tests.deploy.templates import ROOT, load, resolve, service_parameters, task_containers

PROFILES = sorted((ROOT / "deploy" / "profiles").glob("*.json"))
STACKS = ("network", "platform", "service", "api-gateway")
# Fargate's CPU units and the memory (MiB) each allows.
FARGATE_MEMORY = {
    "256": {512, 1024, 2048},
    "512": set(range(1024, 4097, 1024)),
    "1024": set(range(2048, 8193, 1024)),
    "2048": set(range(4096, 16385, 1024)),
    "4096": set(range(8192, 30721, 1024)),
}


def parameter_problems(template: dict, values: dict[str, str]) -> list[str]:
    problems = []
    for name, value in values.items():
        declared = template["Parameters"].get(name)
        if declared is None:
            problems.append(f"{name}: no such parameter")
            continue
        if "AllowedValues" in declared and str(value) not in map(str, declared["AllowedValues"]):
            problems.append(f"{name}={value}: not one of {declared['AllowedValues']}")
        if "AllowedPattern" in declared and not re.fullmatch(declared["AllowedPattern"].strip("^$"), str(value)):
            problems.append(f"{name}={value}: does not match {declared['AllowedPattern']}")
        if declared["Type"] == "Number":
            number = float(value)
            if number < declared.get("MinValue", number) or number > declared.get("MaxValue", number):
                problems.append(f"{name}={value}: out of range")
    return problems


def fargate_problems(values: dict[str, str], template: dict) -> list[str]:
    def value(name: str) -> str:
        return str(values.get(name, template["Parameters"][name]["Default"]))

    return [
        f"{tier}: {value(tier + 'Cpu')} CPU units with {value(tier + 'Memory')} MiB"
        for tier in ("Web", "Worker")
        if int(value(tier + "Memory")) not in FARGATE_MEMORY[value(tier + "Cpu")]
    ]


def test_there_are_profiles():
    assert {path.stem for path in PROFILES} >= {"small", "standard"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.stem)
def test_every_profile_parameter_is_one_the_template_accepts(path):
    profile = json.loads(path.read_text())
    assert set(profile) == {"description", *STACKS}
    for stack in STACKS:
        assert parameter_problems(load(stack), profile[stack]) == [], stack
    assert fargate_problems(profile["service"], load("service")) == []


def test_the_checks_see_a_bad_profile():
    service = load("service")
    assert parameter_problems(service, {"DbMultiAz": "maybe", "WebMinCount": "0", "Nope": "1"}) == [
        "DbMultiAz=maybe: not one of ['true', 'false']",
        "WebMinCount=0: out of range",
        "Nope: no such parameter",
    ]
    assert fargate_problems({"WebCpu": "256", "WebMemory": "4096"}, service) == ["Web: 256 CPU units with 4096 MiB"]


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.stem)
@pytest.mark.parametrize("name", list(SERVICES))
def test_every_service_stack_of_a_profile_keeps_its_tasks_and_release(path, name):
    profile = json.loads(path.read_text())
    template = load("service")
    parameters = service_parameters(name, **profile["service"])
    containers = task_containers(template, parameters)
    assert set(containers) == {
        "WebTaskDefinition",
        "WorkerTaskDefinition",
        "SchedulerTaskDefinition",
        "MigrateTaskDefinition",
    }
    web = resolve(template["Resources"]["WebService"]["Properties"], template, parameters)
    assert web["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert web["DesiredCount"] == profile["service"].get("WebMinCount", 2)


def test_the_readme_prices_every_profile():
    readme = (ROOT / "deploy" / "README.md").read_text()
    section = readme.split("## Profiles and what they cost")[1].split("\n## ")[0]
    for path in PROFILES:
        assert f"`{path.stem}`" in section
    assert "Assumptions" in section
