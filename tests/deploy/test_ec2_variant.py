"""The EC2 Auto Scaling variant of a web tier (service-asg.yaml) and its release: the instances get
the environment the ECS tasks get, each colour's launch template changes only when that colour is
released, the groups scale, and the pipeline releases a web tier on EC2 with the colour swap of
deploy/release_ec2.py (after the migrations and the service stack's workers)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from config.services import SERVICES
from tests.deploy.templates import (
    COLOURS,
    ROOT,
    _references,
    ec2_environment,
    exists,
    iam_statements,
    load,
    resolve,
    resources,
    service_parameters,
    task_containers,
)

# Variables the ECS web task definition sets that the EC2 instances need not: none. Both are
# rendered from deploy/blocks/environment.py's environment(); an entry here needs its reason.
ECS_ONLY: dict[str, str] = {}
# Variables whose value differs on EC2, with the value the instances get instead and why.
DIFFERS_ON_EC2: dict[str, tuple[Any, str]] = {
    "CATALOG_API_URL": (
        {
            "Fn::Sub": [
                "https://${Name}",
                {"Name": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-LoadBalancerServerName"}}},
            ]
        },
        "EC2 instances are outside ECS Service Connect: they reach catalog through the load balancer",
    )
}

# Values the service stack takes from its own resources, which the EC2 stack (a stack of its own)
# imports from the service stack's exports.
_SERVICE_STACK_EXPORTS = {"DatabaseAddress", "DatabasePort"}


def _as_exported(value: Any, service: dict) -> Any:
    """A value of the service stack's, as the EC2 stack imports it: an output exported as
    ${ServiceStackName}-<output> replaces its value."""
    for name in _SERVICE_STACK_EXPORTS:
        output = service["Outputs"][name]
        assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-" + name}
        if value == output["Value"]:
            return {"Fn::ImportValue": {"Fn::Sub": "${ServiceStackName}-" + name}}
    return value


# --- G8c: the EC2 env file sets what the ECS task definition sets ---------------------------------


@pytest.mark.parametrize("colour", COLOURS)
@pytest.mark.parametrize("name", list(SERVICES))
def test_ec2_instances_get_every_variable_the_ecs_web_task_gets(service, asg, name, colour):
    parameters = service_parameters(name)
    ecs = task_containers(service, parameters)["WebTaskDefinition"]
    ecs_environment = {item["Name"]: item["Value"] for item in ecs["Environment"]}
    ecs_secrets = {item["Name"] for item in ecs["Secrets"]}
    ec2 = ec2_environment(asg, colour, parameters)

    missing = set(ecs_environment) | ecs_secrets
    missing -= set(ec2) | set(ECS_ONLY)
    assert not missing, f"the EC2 instances of {name} lack {sorted(missing)}"
    for variable, value in ecs_environment.items():
        if variable in DIFFERS_ON_EC2:
            assert ec2[variable] == DIFFERS_ON_EC2[variable][0], variable
        elif variable not in ECS_ONLY:
            assert ec2[variable] == _as_exported(value, service), variable
    # Nothing else, but the service-specific secrets, which the user data reads only in the
    # payments (on Stripe) / users / users and notifications stacks and leaves empty in the others
    # (test_secrets.py).
    extra = set(ec2) - set(ecs_environment) - ecs_secrets
    per_service = {"PAYMENTS_WEBHOOK_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"}
    assert extra <= per_service | {"JWT_PRIVATE_KEY", "EVENT_SEALING_KEYS"}, extra


def test_the_check_sees_a_missing_variable(asg):
    broken = load("service-asg")
    lines = broken["Resources"]["LaunchTemplateBlue"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ][1]["Environment"]["Fn::Join"][1]
    lines[:] = [line for line in lines if "DATABASE_SSLMODE" not in str(line)]
    assert "DATABASE_SSLMODE" not in ec2_environment(broken, "Blue", service_parameters("catalog"))
    assert ec2_environment(asg, "Blue", service_parameters("catalog"))["DATABASE_SSLMODE"] == "require"


def test_parameters_the_environment_names_are_the_service_stacks(service, asg):
    # A Ref in the shared environment means the same parameter in both stacks.
    names = set()
    for name in SERVICES:
        for line in resolve(
            asg["Resources"]["LaunchTemplateBlue"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
                "Fn::Sub"
            ][1]["Environment"],
            asg,
            {"ServiceName": name},
        )["Fn::Join"][1]:
            names |= _references(line)
    # Pseudo parameters, and the service stack's name the imports of its exports go by.
    names = {name for name in names if not name.startswith("AWS::")} - {"ServiceStackName"}
    assert {"ResourcePrefix", "VisibilityTimeout", "MaxReceiveCount", "AllowedHosts"} <= names
    for name in names:
        assert name in asg["Parameters"], name
        for key in ("Type", "Default", "AllowedPattern", "AllowedValues"):
            expected = service["Parameters"][name].get(key)
            if (name, key) == ("ServiceName", "AllowedValues"):
                expected = [value for value in expected if value != "all"]  # the all-in-one runs on ECS only
            assert asg["Parameters"][name].get(key) == expected, (name, key)


# --- G8b: a colour's launch template changes only when that colour is released -------------------


def _parameters_used(template: dict, resource: str) -> set[str]:
    return _references(template["Resources"][resource]) & set(template["Parameters"])


@pytest.mark.parametrize("colour", COLOURS)
def test_a_colours_launch_template_uses_no_parameter_of_the_other_colour(asg, colour):
    used = _parameters_used(asg, f"LaunchTemplate{colour}")
    other = next(c for c in COLOURS if c != colour)
    assert {f"{colour}ImageTag", f"{colour}AmiId"} <= used
    assert not {name for name in used if name.startswith(other)}, used
    data = asg["Resources"][f"LaunchTemplate{colour}"]["Properties"]["LaunchTemplateData"]
    assert data["ImageId"] == {"Ref": f"{colour}AmiId"}


def test_no_launch_template_reads_a_value_resolved_again_on_every_update(asg):
    # An SSM parameter type is re-resolved on each stack update: a newer AMI would replace both
    # colours' instances, the live one included, in an update that releases neither.
    for colour in COLOURS:
        for name in _parameters_used(asg, f"LaunchTemplate{colour}"):
            assert not asg["Parameters"][name]["Type"].startswith("AWS::SSM::"), name
    assert asg["Parameters"]["BlueAmiId"]["Type"] == "AWS::EC2::Image::Id"
    assert asg["Parameters"]["GreenAmiId"]["Type"] == "AWS::EC2::Image::Id"


@pytest.mark.parametrize("colour", COLOURS)
def test_a_rolling_update_keeps_an_instance_in_service(asg, colour):
    group = asg["Resources"][f"AutoScalingGroup{colour}"]
    policy = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert "AutoScalingReplacingUpdate" not in group["UpdatePolicy"]
    assert int(policy["MinInstancesInService"]) >= 1
    assert int(policy["MaxBatchSize"]) == 1
    # Time for a replacement to boot and pass the health check before the next batch goes.
    assert re.fullmatch(r"PT[1-9]\d*M", policy["PauseTime"])
    # CloudFormation requires MinInstancesInService < MaxSize.
    assert group["Properties"]["MaxSize"] == {"Ref": "MaxCapacity"}
    assert int(asg["Parameters"]["MaxCapacity"]["MinValue"]) > int(policy["MinInstancesInService"])


# --- G8a: scaling ---------------------------------------------------------------------------------


def test_each_colour_scales_on_cpu_like_the_ecs_web_service(service, asg):
    policies = {
        resolve(policy["Properties"]["AutoScalingGroupName"], asg, {})["Ref"]: policy["Properties"]
        for policy in resources(asg, "AWS::AutoScaling::ScalingPolicy").values()
    }
    assert set(policies) == {f"AutoScalingGroup{colour}" for colour in COLOURS}
    ecs = service["Resources"]["WebCpuScaling"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    for policy in policies.values():
        assert policy["PolicyType"] == "TargetTrackingScaling"
        tracking = policy["TargetTrackingConfiguration"]
        assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ASGAverageCPUUtilization"}
        assert tracking["TargetValue"] == ecs["TargetValue"] == {"Ref": "WebCpuTargetPercent"}
    assert asg["Parameters"]["WebCpuTargetPercent"] == {
        **service["Parameters"]["WebCpuTargetPercent"],
        "Description": asg["Parameters"]["WebCpuTargetPercent"]["Description"],
    }


def test_workers_keep_their_queue_depth_scaling_when_the_web_tier_runs_on_ec2(service):
    # The EC2 variant has no worker group: workers stay on ECS in the service stack.
    parameters = service_parameters("orders", WebPlatform="ec2")
    assert not resources(load("service-asg"), "AWS::ECS::Service")
    needed = ("WorkerService", "WorkerScalableTarget", "WorkerScaleOut", "WorkerScaleIn")
    for name in (*needed, "QueueDepthHighAlarm", "QueueDepthLowAlarm"):
        assert exists(service, service["Resources"][name], parameters), name
    assert not exists(service, service["Resources"]["WebService"], parameters)
    alarms = service["Resources"]
    assert alarms["QueueDepthHighAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "WorkerScaleOut"}]
    assert alarms["QueueDepthLowAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "WorkerScaleIn"}]
    assert alarms["QueueDepthHighAlarm"]["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"


# --- G6: the pipeline releases each web tier on its platform ------------------------------------


def _stages(pipeline: dict, **parameters: Any) -> dict[str, dict[str, dict]]:
    stages = resolve(pipeline["Resources"]["Pipeline"]["Properties"]["Stages"], pipeline, parameters)
    return {stage["Name"]: {action["Name"]: action for action in stage["Actions"]} for stage in stages}


@pytest.mark.parametrize("name", list(SERVICES))
def test_a_web_tier_on_ec2_is_released_by_the_colour_swap_after_its_service_stack(pipeline, name):
    stages = _stages(pipeline, **{f"{name.capitalize()}WebPlatform": "ec2"})
    assert list(stages) == ["Source", "Build", "Migrate", "Deploy"]
    assert f"migrate-{name}" in stages["Migrate"]  # the stage before any code moves
    release = stages["Deploy"][f"release-{name}"]
    assert release["ActionTypeId"] == {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"}
    assert release["Configuration"]["ProjectName"] == {"Ref": "ReleaseProject"}
    # The action tells the release where the web tier runs: the pipeline's <Service>WebPlatform.
    assert yaml.safe_load(release["Configuration"]["EnvironmentVariables"]["Fn::Sub"]) == [
        {"name": "SERVICE", "value": name, "type": "PLAINTEXT"},
        {"name": "WEB_PLATFORM", "value": f"${{{name.capitalize()}WebPlatform}}", "type": "PLAINTEXT"},
    ]
    assert {artifact["Name"] for artifact in release["InputArtifacts"]} == {"Source", "BuildOutput"}
    assert set(stages["Deploy"]) == {f"release-{other}" for other in SERVICES}


def test_the_release_updates_the_service_stack_then_swaps_the_ec2_colours(pipeline):
    project = pipeline["Resources"]["ReleaseProject"]["Properties"]
    buildspec = yaml.safe_load((ROOT / project["Source"]["BuildSpec"]).read_text())
    commands = "\n".join(buildspec["phases"]["build"]["commands"])
    service_stack = 'python deploy/release.py deploy --stack-name "${STACK_PREFIX}${SERVICE}"'
    colour_swap = 'python deploy/release_ec2.py --stack-name "${STACK_PREFIX}${SERVICE}-web-ec2"'
    # Workers (in the service stack) first, then the web tier on EC2.
    assert service_stack in commands and colour_swap in commands
    assert commands.index(service_stack) < commands.index(colour_swap)
    assert 'if [ "$WEB_PLATFORM" = ec2 ]' in commands
    assert "imageDetail.json" in commands
    assert {"Name": "STACK_PREFIX", "Value": {"Ref": "ServiceStackPrefix"}} in project["Environment"][
        "EnvironmentVariables"
    ]
    assert project["ServiceRole"] == {"Fn::GetAtt": ["ReleaseRole", "Arn"]}
    statements = {s["Sid"]: s for name, s in iam_statements(pipeline) if name == "ReleaseRole"}
    # Each service's stack and its EC2 web stack by name: not the platform, network, API or
    # pipeline stacks, which share the prefix.
    arn = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${ServiceStackPrefix}"
    # (and the all-in-one stack, <prefix>all, which a pipeline with Shape all-in-one releases).
    assert statements["ReleaseStacks"]["Resource"] == [
        {"Fn::Sub": f"{arn}{name}{suffix}/*"} for name in SERVICES for suffix in ("", "-web-ec2")
    ] + [{"Fn::Sub": f"{arn}all/*"}]
    builds = next(s for name, s in iam_statements(pipeline) if name == "PipelineRole" and s["Sid"] == "Builds")
    assert {"Fn::GetAtt": ["ReleaseProject", "Arn"]} in builds["Resource"]


def test_the_readme_documents_the_ec2_release_as_built():
    readme = (ROOT / "deploy" / "README.md").read_text()
    section = readme.split("## The EC2 Auto Scaling variant (service-asg.yaml)")[1].split("\n## ")[0]
    asg = load("service-asg")
    # Every parameter of the template, but the stack names and thresholds the text names in general.
    general = {"NetworkStackName", "PlatformStackName", "Alarm5xxPercent", "AlarmResponseTimeSeconds"}
    for name in set(asg["Parameters"]) - general:
        assert f"`{name}`" in section or f"{name}=" in section, name
    assert "deploy/release_ec2.py --stack-name shopstack-$svc-web-ec2" in section
    assert "`<Service>WebPlatform=ec2`" in section
    assert "`<Service>WebPlatform`" in readme.split("9. **Pipeline.**")[1].split("\n## ")[0]
    assert "release_ec2.py" in readme.split("## A release (blue/green) and a rollback")[1]
    for step in ("BlueWeight=90 GreenWeight=10", "BlueWeight=0 GreenWeight=100", "BlueCapacity=0"):
        assert step in section
