"""Cost profiles (deploy/profiles/*.json): parameter overrides per stack that every template accepts,
with Fargate sizes Fargate accepts, whose stacks render (deploy/render.py --profile: the templates
with the profile's values as defaults, which scripts/check-deploy runs through checkov)
and pass the policy checks, and whose service stacks keep their tasks and blue/green release."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from config.services import SERVICES
from tests.deploy.templates import (
    ROOT,
    exists,
    foreign_role_resources,
    load,
    resolve,
    resources,
    secret_value_from_problems,
    service_parameters,
    task_containers,
    unencrypted_resources,
    unredriven_queues,
    wildcard_statements,
)

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import render
finally:
    sys.path.remove(str(ROOT / "deploy"))

PROFILES = sorted((ROOT / "deploy" / "profiles").glob("*.json"))
STACKS = ("network", "platform", "database", "service", "api-gateway", "pipeline")
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
    # The small-shop profiles (#16): one shared database instance, and the all-in-one shape.
    assert {path.stem for path in PROFILES} >= {"small", "standard", "shared-database", "all-in-one"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.stem)
def test_every_profile_parameter_is_one_the_template_accepts(path):
    profile = json.loads(path.read_text())
    assert set(profile) == {"description", "services", *STACKS}
    for stack in STACKS:
        if profile[stack] is not None:
            assert parameter_problems(load(stack), profile[stack]) == [], stack
    assert fargate_problems(profile["service"], load("service")) == []
    assert profile["services"] in (list(SERVICES), ["all"])
    # A shared instance exactly where the service stacks name one.
    assert (profile["database"] is not None) == ("DatabaseStackName" in profile["service"])
    assert (profile["pipeline"].get("Shape") == "all-in-one") == (profile["services"] == ["all"])


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.stem)
def test_every_stack_of_a_profile_renders_and_passes_the_policies(path):
    rendered = render.profile_templates(path.stem)
    profile = json.loads(path.read_text())
    expected = {f"{stack}.json" for stack in STACKS if stack != "service" and profile[stack] is not None}
    assert set(rendered) == expected | {f"service-{name}.json" for name in profile["services"]}
    for name, template in rendered.items():
        assert unredriven_queues(template) == [], name
        assert unencrypted_resources(template) == [], name
        assert wildcard_statements(template) == [], name
        assert secret_value_from_problems(template) == [], name
        if name.startswith("service-"):
            assert foreign_role_resources(template) == [], name
        for parameter, value in {**(profile.get(name.removesuffix(".json")) or {})}.items():
            assert str(template["Parameters"][parameter]["Default"]) == str(value)


def test_the_small_shop_profiles_make_what_they_promise():
    shared = render.profile_templates("shared-database")
    parameters = service_parameters("orders")
    for name in SERVICES:
        template = shared[f"service-{name}.json"]
        existing = {n for n, r in resources(template).items() if exists(template, r, service_parameters(name))}
        assert "Database" not in existing and {"DatabaseSecret", "AppDatabaseSecret"} <= existing, name
    assert "Database" in resources(shared["database.json"])
    one = render.profile_templates("all-in-one")["service-all.json"]
    parameters = {"ServiceName": "all"}
    services = [n for n, r in resources(one, "AWS::ECS::Service").items() if exists(one, r, parameters)]
    assert services == ["WebService"]
    assert exists(one, one["Resources"]["Database"], parameters)


def test_a_profile_naming_a_parameter_no_template_has_does_not_render(tmp_path, monkeypatch):
    (tmp_path / "broken.json").write_text(
        json.dumps({**json.loads((ROOT / "deploy/profiles/small.json").read_text()), "pipeline": {"Nope": "1"}})
    )
    monkeypatch.setattr(render, "PROFILES", tmp_path)
    with pytest.raises(SystemExit, match="no parameter Nope"):
        render.profile_templates("broken")


def test_the_checks_see_a_bad_profile():
    service = load("service")
    assert parameter_problems(service, {"DbMultiAz": "maybe", "WebMinCount": "0", "Nope": "1"}) == [
        "DbMultiAz=maybe: not one of ['true', 'false']",
        "WebMinCount=0: out of range",
        "Nope: no such parameter",
    ]
    assert fargate_problems({"WebCpu": "256", "WebMemory": "4096"}, service) == ["Web: 256 CPU units with 4096 MiB"]


@pytest.mark.parametrize(
    ("path", "name"),
    [(path, name) for path in PROFILES for name in json.loads(path.read_text())["services"]],
    ids=lambda value: value.stem if isinstance(value, Path) else value,
)
def test_every_service_stack_of_a_profile_keeps_its_tasks_and_release(path, name):
    profile = json.loads(path.read_text())
    template = load("service")
    parameters = service_parameters(name, **profile["service"])
    containers = task_containers(template, parameters)
    # The all-in-one stack: one service (its scheduler is a container of the web task).
    tiers = {"WebTaskDefinition", "MigrateTaskDefinition"}
    assert set(containers) == (tiers if name == "all" else tiers | {"WorkerTaskDefinition", "SchedulerTaskDefinition"})
    web = resolve(template["Resources"]["WebService"]["Properties"], template, parameters)
    assert web["DeploymentConfiguration"]["Strategy"] == "CANARY"
    assert web["DesiredCount"] == profile["service"].get("WebMinCount", 2)


def test_the_readme_prices_every_profile():
    readme = (ROOT / "deploy" / "README.md").read_text()
    section = readme.split("## Profiles and what they cost")[1].split("\n## ")[0]
    for path in PROFILES:
        assert f"`{path.stem}`" in section
    assert "Assumptions" in section
